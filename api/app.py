"""The Litestar application: the JSON API under /v1, OpenAPI at /schema, /healthz."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from litestar import Litestar, Request, Response, Router, route
from litestar.enums import HttpMethod
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import Components, Contact, License, SecurityScheme, Tag

from api.auth import authorize
from api.controllers.decisions import DecisionController, classify, inbox
from api.controllers.delegations import DelegationController
from api.controllers.log import (
    audit,
    bundle,
    consistency,
    create_checkpoint,
    export,
    export_proofs,
    inclusion,
    latest_checkpoint,
    public_key,
    start_audit,
    start_verify,
    verify,
)
from api.controllers.policy import active_policy, me, policy_versions, propose, reload_policy, simulate_policy
from api.controllers.reviews import digest, effect, escalations
from api.controllers.slack import slack_interactions
from api.errors import EXCEPTION_HANDLERS
from api.headers import security_headers
from api.health import method_not_allowed, readyz
from api.heap import freeze_startup_objects
from api.oidc import OIDC_STATE, OidcServices
from api.oidc.settings import OidcSettings
from api.openapi import PLUGINS as OPENAPI_PLUGINS
from api.params import DeclaredQueryParameters
from api.prometheus import latency_middleware, metrics
from api.reference import SwaggerUIPage
from api.schemas import Health
from api.web import web_components
from api.web.session import SECURE_COOKIES_STATE, session_secret
from engine.log.autosign import checkpoint_every_from_env, run_checkpointer
from engine.log.checkpoints import state_dir_for
from engine.notify.delivery import run_dispatcher
from engine.notify.outbox import enqueue_overdue
from engine.review.schedule import run_schedule
from engine.runtime import Runtime, open_runtime
from engine.store.db import database_url_from_env, normalise_url

MAX_BODY_BYTES = 64 * 1024

#: Every tag an operation uses, described once (client generators and linters read these).
TAGS = [
    Tag(name="decisions", description="File, classify, list, read and decide decisions."),
    Tag(name="delegations", description="Hand an approver role to a named person for a date range."),
    Tag(name="policy", description="The active policy, its history, candidates and governed activation."),
    Tag(name="people", description="Who a token belongs to."),
    Tag(name="log", description="The verifiable log: verify, export, proofs, signed checkpoints."),
    Tag(name="reviews", description="Review digests and escalation metrics."),
    Tag(name="health", description="Liveness, without credentials."),
]

V1_HANDLERS: list[Any] = [
    DecisionController,
    DelegationController,
    classify,
    inbox,
    active_policy,
    policy_versions,
    propose,
    reload_policy,
    simulate_policy,
    me,
    verify,
    start_verify,
    audit,
    start_audit,
    export,
    inclusion,
    consistency,
    create_checkpoint,
    latest_checkpoint,
    public_key,
    export_proofs,
    bundle,
    digest,
    escalations,
    effect,
]


@route(
    "/healthz",
    http_method=[HttpMethod.GET, HttpMethod.HEAD],
    opt={"public": True},
    sync_to_thread=False,
    tags=["health"],
    summary="Liveness",
    description="No credentials needed. 200 while the service accepts writes; 503 with the reason while it refuses "
    "appends (e.g. the database is behind its last signed checkpoint). HEAD answers the same status and headers.",
    responses={
        405: method_not_allowed("GET", "HEAD"),
        503: ResponseSpec(Health, description="Up, but refusing appends: `detail` says why.", generate_examples=False),
    },
)
def healthz(request: Request[Any, Any, Any]) -> Response[Health]:
    runtime: Runtime = request.app.state.runtime
    blocked = runtime.service.append_blocked
    version = runtime.policies.current.version
    health = Health(status="ok" if blocked is None else "refusing-appends", policy_version=version, detail=blocked)
    return Response(health, status_code=200 if blocked is None else 503)


def _sweep(rt: Runtime, now: datetime) -> None:
    """The dispatcher's sweep: overdue notices, then the reminders and escalations the policy owes."""
    enqueue_overdue(rt.service.engine, rt.policies.current, rt.notify, now)
    try:
        rt.service.sweep_reminders(now)
    except Exception:  # e.g. appends refused after a restore: delivery goes on, the operator sees why
        logging.getLogger("decisions.notify").exception("the reminder sweep failed")


def create_app(
    runtime: Runtime | None = None,
    *,
    extra_route_handlers: Sequence[Any] = (),
    extra_plugins: Sequence[Any] = (),
    web: bool = True,
    freeze_heap: bool = False,
    oidc: OidcSettings | None = None,
    **litestar_kwargs: Any,
) -> Litestar:
    """Build the app; without `runtime`, one is opened from the environment at start-up.

    `oidc`: the identity provider's settings (default: from DECISIONS_OIDC_* in the environment;
    none there means sign-in by pasted token only and no bearer JWTs).

    `freeze_heap` (the served process, not tests that build many apps) moves everything alive
    once the service is up out of the garbage collector's sight: see `api.heap`.
    """
    oidc_settings = oidc or OidcSettings.from_env()
    web_kwargs: dict[str, Any] = {"route_handlers": [], "middleware": []}
    secret = None
    if web:
        database_url = runtime.database_url if runtime is not None else normalise_url(database_url_from_env())
        web_kwargs = web_components(
            state_dir_for(database_url), secure_cookies=os.environ.get("DECISIONS_SECURE_COOKIES") == "1"
        )
        secret = session_secret(state_dir_for(database_url))
    oidc_services = OidcServices.from_settings(oidc_settings, secret) if oidc_settings is not None else None

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        owned = runtime is None
        app.state.runtime = rt = runtime or open_runtime()
        if oidc_services is not None:
            app.state[OIDC_STATE] = oidc_services
        stop = threading.Event()
        dispatcher = None
        if os.environ.get("DECISIONS_NOTIFY") == "1" and rt.notify.channels:
            dispatcher = threading.Thread(
                target=run_dispatcher,
                args=(rt.service.engine, rt.notify, rt.service.clock, stop),
                kwargs={"sweep": lambda now: _sweep(rt, now)},
                name="notify-dispatcher",
                daemon=True,
            )
            dispatcher.start()
        schedule = None
        if os.environ.get("DECISIONS_SCHEDULE") == "1":
            schedule = threading.Thread(target=run_schedule, args=(rt, stop), name="review-schedule", daemon=True)
            schedule.start()
        checkpointer = None
        every = checkpoint_every_from_env()
        if every is not None:
            checkpointer = threading.Thread(
                target=run_checkpointer, args=(rt.checkpoints, stop, every), name="checkpointer", daemon=True
            )
            checkpointer.start()
        if freeze_heap:
            freeze_startup_objects()
        try:
            yield
        finally:
            stop.set()
            for thread in (dispatcher, schedule, checkpointer):
                if thread is not None:
                    thread.join(timeout=15)
            if owned:
                rt.close()

    v1 = Router(path="/v1", route_handlers=V1_HANDLERS, guards=[authorize], security=[{"BearerToken": []}])
    app = Litestar(
        route_handlers=[
            v1,
            healthz,
            readyz,
            metrics,
            slack_interactions,
            *web_kwargs.pop("route_handlers"),
            *extra_route_handlers,
        ],
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=MAX_BODY_BYTES,
        plugins=[*OPENAPI_PLUGINS, DeclaredQueryParameters(), *extra_plugins],
        openapi_config=OpenAPIConfig(
            title="decision-rights",
            version="1.0.0",
            description="Who may decide what: file decisions, see their tier and route, approve, audit the log.",
            path="/schema",
            render_plugins=[SwaggerUIPage()],
            contact=Contact(name="decision-rights maintainers"),
            # The repository grants no licence (no LICENSE file, none in pyproject.toml): say exactly that.
            license=License(name="Proprietary: no licence is granted", identifier="LicenseRef-Proprietary"),
            tags=TAGS,
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="A token from `decisions token create NAME` (scope full; with "
                        "`--scope read` only GET operations and `POST /v1/classify` accept it, the rest answer "
                        "403), or an access token from the identity provider when one is configured.",
                    )
                }
            ),
        ),
        middleware=[security_headers, latency_middleware, *web_kwargs.pop("middleware")],
        **web_kwargs,
        **litestar_kwargs,
    )
    app.state[SECURE_COOKIES_STATE] = os.environ.get("DECISIONS_SECURE_COOKIES") == "1"
    return app
