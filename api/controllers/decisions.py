"""Filing, classification, reading and deciding."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import ValidationException
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter

from api.auth import APPROVERS, EVERYONE, FILERS, runtime_of
from engine.types import (
    ClassificationView,
    DecisionDetail,
    DecisionFilter,
    DecisionPage,
    DecisionView,
    FilingRequest,
    InboxItem,
    Status,
    VerdictRequest,
    WithdrawRequest,
)

MAX_IDEMPOTENCY_KEY = 200


def _idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not value or len(value) > MAX_IDEMPOTENCY_KEY or not value.isprintable() or not value.isascii():
        raise ValidationException(
            "Idempotency-Key must be 1-200 printable ASCII characters",
            extra=[{"key": "Idempotency-Key", "source": "header", "message": "1-200 printable ASCII characters"}],
        )
    return value


class DecisionController(Controller):
    path = "/decisions"
    tags = ["decisions"]

    @post(
        "/",
        opt={"roles": FILERS, "body_type": FilingRequest},
        sync_to_thread=True,
        summary="File a decision",
        description="Classifies, routes and logs it in one transaction. A replay with the same "
        "Idempotency-Key and body returns the original decision with 200.",
        status_code=201,
    )
    def file(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[FilingRequest],
        idempotency_key: Annotated[str | None, HeaderParameter(name="Idempotency-Key")] = None,
    ) -> Response[DecisionView]:
        result = runtime_of(request).service.file(request.user, data, _idempotency_key(idempotency_key))
        return Response(result.decision, status_code=201 if result.created else 200)

    @get(
        "/",
        opt={"roles": EVERYONE},
        sync_to_thread=True,
        summary="List decisions, newest first",
    )
    def list_decisions(
        self,
        request: Request[Any, Any, Any],
        status: FromQuery[Status | None] = None,
        tier: Annotated[int | None, QueryParameter(ge=1, le=3)] = None,
        category: FromQuery[str | None] = None,
        squad: FromQuery[str | None] = None,
        filed_by: FromQuery[str | None] = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> DecisionPage:
        filters = DecisionFilter(
            status=status, tier=tier, category=category, squad=squad, filed_by=filed_by, since=since, until=until
        )
        return runtime_of(request).service.list_decisions(filters, cursor, limit)

    @get("/{decision_id:str}", opt={"roles": EVERYONE}, sync_to_thread=True, summary="A decision and its events")
    def get_decision(self, request: Request[Any, Any, Any], decision_id: FromPath[str]) -> DecisionDetail:
        return runtime_of(request).service.get(decision_id)

    @post(
        "/{decision_id:str}/approvals",
        opt={"roles": APPROVERS, "body_type": VerdictRequest},
        sync_to_thread=True,
        summary="Approve or reject",
        status_code=200,
    )
    def decide(
        self, request: Request[Any, Any, Any], decision_id: FromPath[str], data: JSONBody[VerdictRequest]
    ) -> DecisionView:
        return runtime_of(request).service.decide(request.user, decision_id, data)

    @post(
        "/{decision_id:str}/withdraw",
        opt={"roles": FILERS, "body_type": WithdrawRequest},
        sync_to_thread=True,
        summary="Withdraw your own pending decision",
        status_code=200,
    )
    def withdraw(
        self, request: Request[Any, Any, Any], decision_id: FromPath[str], data: JSONBody[WithdrawRequest]
    ) -> DecisionView:
        return runtime_of(request).service.withdraw(request.user, decision_id, data)


@post(
    "/classify",
    opt={"roles": EVERYONE, "body_type": FilingRequest},
    sync_to_thread=True,
    tags=["decisions"],
    summary="Dry run: tier, route and explanation; nothing is stored",
    status_code=200,
)
def classify(request: Request[Any, Any, Any], data: JSONBody[FilingRequest]) -> ClassificationView:
    return runtime_of(request).service.classify(request.user, data)


@get("/inbox", opt={"roles": APPROVERS}, sync_to_thread=True, tags=["decisions"], summary="What waits on me")
def inbox(request: Request[Any, Any, Any]) -> list[InboxItem]:
    return runtime_of(request).service.inbox(request.user)
