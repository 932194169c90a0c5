"""Review digests and escalation metrics over HTTP; Prometheus text at /metrics."""

from __future__ import annotations

from datetime import date as Date
from typing import Annotated, Any, Literal

from litestar import Request, Response, get
from litestar.params import FromPath, FromQuery, QueryParameter

from api.auth import EVERYONE, runtime_of
from api.openapi import Variants, problems
from engine.effect.measures import EffectReport
from engine.review.digest import Digest
from engine.review.metrics import EscalationReport
from engine.review.render import MEDIA, render_digest, render_escalations

Format = Literal["json", "md", "html"]


@get(
    "/digests/{kind:str}",
    opt={"roles": EVERYONE},
    sync_to_thread=True,
    tags=["reviews"],
    summary="The weekly or bi-weekly review digest of the window containing `date` (policy timezone)",
    description="kind: weekly (the weekly_sync cadence) or biweekly (director_review). A closed window's digest "
    "is the same, byte for byte, whenever it is asked for.",
    responses={
        200: Variants(
            Digest,
            description="The digest: `format=json` (default), `md` or `html`.",
            generate_examples=False,
            alternatives={"text/markdown": "format=md: GitHub Markdown.", "text/html": "format=html: a whole page."},
        ),
        **problems(422),
    },
)
def digest(
    request: Request[Any, Any, Any],
    kind: FromPath[Literal["weekly", "biweekly"]],
    date: FromQuery[Date | None] = None,
    format: FromQuery[Format] = "json",
) -> Response[bytes]:
    reviews = runtime_of(request).reviews
    built = reviews.digest(kind, date)
    # JSON carries ids; Markdown and HTML name categories and people as the digest's policy does.
    policy = reviews.policy_of(built) if format != "json" else None
    return Response(render_digest(built, format, policy), media_type=MEDIA[format])


@get(
    "/metrics/escalations",
    opt={"roles": EVERYONE},
    sync_to_thread=True,
    tags=["reviews"],
    summary="Decisions filed per period, by tier, escalation rate and its change vs the previous period and "
    "the policy's baseline",
    description="The last `periods` periods (policy timezone), oldest first.",
    responses={
        200: Variants(
            EscalationReport,
            description="The report: `format=json` (default), `md` or `html`.",
            generate_examples=False,
            alternatives={"text/markdown": "format=md: GitHub Markdown.", "text/html": "format=html: a whole page."},
        ),
        **problems(422),
    },
)
def escalations(
    request: Request[Any, Any, Any],
    period: FromQuery[Literal["week", "month", "quarter"]] = "week",
    periods: Annotated[int, QueryParameter(ge=1, le=104)] = 8,
    format: FromQuery[Format] = "json",
) -> Response[bytes]:
    report = runtime_of(request).reviews.escalations(period, periods)
    return Response(render_escalations(report, format), media_type=MEDIA[format])


@get(
    "/metrics/effect",
    opt={"roles": EVERYONE},
    sync_to_thread=True,
    tags=["reviews"],
    summary="The effect of decision rights per period: the director's load against the imported pre-adoption "
    "baseline and the previous period, squad-resolved items, time to decision per tier (median, p90), overdue "
    "items and the director's hours recaptured",
    description="The last `periods` periods (policy timezone), oldest first, beside the imported baseline.",
    responses={
        200: Variants(
            EffectReport,
            description="The report: `format=json` (default), `md` or `html`.",
            generate_examples=False,
            alternatives={"text/markdown": "format=md: GitHub Markdown.", "text/html": "format=html: a whole page."},
        )
    },
)
def effect(
    request: Request[Any, Any, Any],
    period: FromQuery[Literal["week", "month", "quarter"]] = "quarter",
    periods: Annotated[int, QueryParameter(ge=1, le=104)] = 4,
    format: FromQuery[Format] = "json",
) -> Response[bytes]:
    from engine.effect.render import MEDIA as EFFECT_MEDIA
    from engine.effect.render import render_effect
    from engine.effect.service import Effect

    runtime = runtime_of(request)
    report = Effect(runtime.service, runtime.policies, runtime.service.clock).report(period, periods)
    return Response(render_effect(report, format), media_type=EFFECT_MEDIA[format])
