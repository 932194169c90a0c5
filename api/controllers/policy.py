"""The active policy, its history, candidates and governed activation."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from litestar import Request, get, post
from litestar.params import JSONBody
from msgspec import Struct

from api.auth import ADMINS, EVERYONE, READERS, runtime_of
from api.openapi import problems
from api.schemas import PersonView, PolicyView, person_view, policy_view
from engine.activation import VersionView
from engine.history import from_event_rows
from engine.simulate import SimulationReport, simulate
from policy import load_policy_text


class CandidateRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    #: The candidate policies.yaml, as text.
    content: str
    source: str = "candidate.yaml"


class CandidateView(Struct, kw_only=True):
    version: str
    categories: list[str]


@get(
    "/policy",
    opt={"roles": EVERYONE},
    sync_to_thread=False,
    tags=["policy"],
    summary="The active policy",
    description="Tiers, categories, their fields and rules, as the service applies them now.",
)
def active_policy(request: Request[Any, Any, Any]) -> PolicyView:
    return policy_view(runtime_of(request).policies.current)


@get(
    "/policy/versions",
    opt={"roles": EVERYONE},
    sync_to_thread=True,
    tags=["policy"],
    summary="Activation history",
    description="Every policy version the service has run under, with when and by which decision it was activated.",
)
def policy_versions(request: Request[Any, Any, Any]) -> list[VersionView]:
    return runtime_of(request).governance.versions()


@post(
    "/policy/candidates",
    opt={"roles": ADMINS, "body_type": CandidateRequest},
    sync_to_thread=True,
    tags=["policy"],
    summary="Store a candidate policy; file a `policy` decision naming its version to activate it",
    description="The candidate must load; a policy that does not is refused with 422 naming each line.",
    status_code=201,
)
def propose(request: Request[Any, Any, Any], data: JSONBody[CandidateRequest]) -> CandidateView:
    candidate = runtime_of(request).governance.propose(data.content, data.source)
    return CandidateView(version=candidate.version, categories=sorted(candidate.policy.categories))


class SimulateRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    #: The candidate policies.yaml, as text.
    content: str
    since: date | None = None
    until: date | None = None
    period: Literal["week", "month"] = "week"


@post(
    "/policy/simulate",
    opt={"roles": ADMINS, "body_type": SimulateRequest},
    sync_to_thread=True,
    tags=["policy"],
    summary="Replay the log's decisions under a candidate policy; nothing is stored",
    description="How each period's decisions would have been tiered under the candidate, against the active policy.",
    status_code=200,
)
def simulate_policy(request: Request[Any, Any, Any], data: JSONBody[SimulateRequest]) -> SimulationReport:
    runtime = runtime_of(request)
    candidate = load_policy_text(data.content, "candidate.yaml")
    return simulate(
        from_event_rows(runtime.service.iter_event_rows()),
        candidate,
        runtime.policies.current,
        since=data.since,
        until=data.until,
        period=data.period,
    )


@post(
    "/policy/reload",
    opt={"roles": ADMINS},
    sync_to_thread=True,
    tags=["policy"],
    summary="Reload the policy file; activated only if an approved decision names its hash",
    description="A policy file that does not load is refused with 422; one no approved decision names, with 403.",
    status_code=200,
    responses=problems(422),
)
def reload_policy(request: Request[Any, Any, Any]) -> PolicyView:
    return policy_view(runtime_of(request).governance.activate_file(request.user))


@get(
    "/me",
    opt={"roles": READERS},
    sync_to_thread=False,
    tags=["people"],
    summary="Who the token belongs to",
    description="The person of the policy's directory the bearer token was issued to, and their roles.",
)
def me(request: Request[Any, Any, Any]) -> PersonView:
    return person_view(request.user)
