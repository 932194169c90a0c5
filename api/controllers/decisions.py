"""Filing, classification, reading and deciding."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

import anyio.to_thread
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.response import Stream

from api.auth import DECIDERS, FILERS, READERS, runtime_of
from api.filters import DECISION_FILTER
from api.openapi import problems
from engine.decision_export import decisions_csv
from engine.types import (
    AmendRequest,
    ClassificationView,
    CommentRequest,
    DecisionDetail,
    DecisionFilter,
    DecisionPage,
    DecisionSort,
    DecisionView,
    FilingRequest,
    GateView,
    InboxPage,
    InboxSort,
    ProceedRequest,
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


SortQuery = Annotated[
    DecisionSort,
    QueryParameter(description="newest or oldest filed first, highest tier first, or title A-Z"),
]


class DecisionController(Controller):
    path = "/decisions"
    tags = ["decisions"]

    @post(
        "/",
        opt={"roles": FILERS, "body_type": FilingRequest},
        summary="File a decision",
        description="Classifies, routes and logs it in one transaction. A replay with the same "
        "Idempotency-Key and body returns the original decision with 200.",
        status_code=201,
        responses={
            200: ResponseSpec(
                DecisionView,
                description="A replay: this Idempotency-Key and body were filed before; the original decision.",
                generate_examples=False,
            ),
            **problems(409),
        },
    )
    async def file(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[FilingRequest],
        idempotency_key: Annotated[
            str | None,
            # Documented here, checked by _idempotency_key (which names the header as the client wrote it).
            HeaderParameter(
                name="Idempotency-Key",
                schema_extra={"minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY, "pattern": r"^[\x20-\x7e]+$"},
            ),
        ] = None,
    ) -> Response[DecisionView]:
        service = runtime_of(request).service
        key = _idempotency_key(idempotency_key)
        # Validation and classification are microseconds of CPU: done here, the append is awaited
        # from the group-commit thread, with no worker thread held per request.
        queued = service.file_later(request.user, data, key)
        if queued is not None:
            result = await asyncio.wrap_future(queued)
        else:
            result = await anyio.to_thread.run_sync(service.file, request.user, data, key)
        return Response(result.decision, status_code=201 if result.created else 200)

    @get(
        "/",
        opt={"roles": READERS},
        dependencies=DECISION_FILTER,
        sync_to_thread=True,
        summary="List and search decisions, newest first",
        description="Filters combine with AND; `q` searches titles, rationales and comments (every word, "
        "stemmed). `since`/`until` bound the filing time. Page with `cursor`: each page names the next one, "
        "for the same filters and `sort`.",
        responses=problems(422),
    )
    def list_decisions(
        self,
        request: Request[Any, Any, Any],
        filters: NamedDependency[DecisionFilter],
        sort: SortQuery = "newest",
        cursor: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> DecisionPage:
        return runtime_of(request).service.list_decisions(filters, cursor, limit, sort)

    @get(
        "/export",
        opt={"roles": READERS},
        dependencies=DECISION_FILTER,
        sync_to_thread=True,
        summary="Export decisions as CSV, streamed: one row per decision",
        description="The filters and `sort` of the list, without paging. Columns: id, title, category, tier, "
        "status, filer, squad, filed, decided (UTC), approvers (`name` or `delegate for delegator`, `; ` "
        "between). Spreadsheet-safe: a cell that would start a formula starts with `'`.",
        responses={
            200: ResponseSpec(
                str,
                media_type="text/csv",
                description="A header row, then one row per decision, as an attachment.",
                generate_examples=False,
            ),
            **problems(422),
        },
    )
    def export(
        self,
        request: Request[Any, Any, Any],
        *,  # the document lists the parameters in this order: `format`, the filters, `sort`
        format: FromQuery[Literal["csv"]] = "csv",
        filters: NamedDependency[DecisionFilter],
        sort: SortQuery = "newest",
    ) -> Stream:
        # The first rows are read here: a refused filter is a 4xx before the 200 and the first byte.
        views = runtime_of(request).service.iter_decisions(filters, sort)
        return Stream(
            decisions_csv(views),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="decisions.csv"'},
        )

    @get(
        "/{decision_id:str}",
        opt={"roles": READERS},
        sync_to_thread=True,
        summary="A decision and its events",
        description="The decision as it stands, and every logged event about it, oldest first.",
        responses=problems(404),
    )
    def get_decision(self, request: Request[Any, Any, Any], decision_id: FromPath[str]) -> DecisionDetail:
        return runtime_of(request).service.get(decision_id)

    @get(
        "/{decision_id:str}/gate",
        opt={"roles": READERS},
        sync_to_thread=True,
        summary="Gate: may a pipeline go ahead?",
        description="`pass` is true only when the decision is resolved or approved (never when withdrawn, "
        "rejected or superseded); `reason` says why in one line. For CI: `decisions gate ID`.",
        responses=problems(404),
    )
    def gate(self, request: Request[Any, Any, Any], decision_id: FromPath[str]) -> GateView:
        return runtime_of(request).service.gate(decision_id)

    @post(
        "/{decision_id:str}/approvals",
        # Anyone but an auditor: a squad member may sign under a delegation. The service decides on the
        # merits (on the route, not the filer, delegation in force) and refuses with 403 otherwise.
        opt={"roles": DECIDERS, "body_type": VerdictRequest},
        sync_to_thread=True,
        summary="Approve or reject",
        description="Counts toward the route's quorum; a rejection needs a reason.",
        status_code=200,
        responses=problems(404, 409),
    )
    def decide(
        self, request: Request[Any, Any, Any], decision_id: FromPath[str], data: JSONBody[VerdictRequest]
    ) -> DecisionView:
        return runtime_of(request).service.decide(request.user, decision_id, data, channel="api")

    @post(
        "/{decision_id:str}/withdraw",
        opt={"roles": FILERS, "body_type": WithdrawRequest},
        sync_to_thread=True,
        summary="Withdraw your own pending decision",
        description="Only the filer, only while it is pending.",
        status_code=200,
        responses=problems(404, 409),
    )
    def withdraw(
        self, request: Request[Any, Any, Any], decision_id: FromPath[str], data: JSONBody[WithdrawRequest]
    ) -> DecisionView:
        return runtime_of(request).service.withdraw(request.user, decision_id, data)

    @post(
        "/{decision_id:str}/amend",
        opt={"roles": FILERS, "body_type": AmendRequest},
        sync_to_thread=True,
        summary="Amend your own pending decision",
        description="Re-classified under the active policy; approvals already given are dismissed (and logged "
        "as such) unless the tier's invalidate_on_amend option says the change is immaterial.",
        status_code=200,
        responses=problems(404, 409),
    )
    def amend(
        self, request: Request[Any, Any, Any], decision_id: FromPath[str], data: JSONBody[AmendRequest]
    ) -> DecisionView:
        return runtime_of(request).service.amend(request.user, decision_id, data)

    @post(
        "/{decision_id:str}/comments",
        # Auditors read everything but write nothing, comments included.
        opt={"roles": FILERS, "body_type": CommentRequest},
        sync_to_thread=True,
        summary="Comment on a decision (a logged event)",
        description="Anyone who may file may comment, on any decision; the comment is part of the log.",
        status_code=201,
        responses=problems(404),
    )
    def comment(
        self, request: Request[Any, Any, Any], decision_id: FromPath[str], data: JSONBody[CommentRequest]
    ) -> DecisionView:
        return runtime_of(request).service.comment(request.user, decision_id, data)

    @post(
        "/{decision_id:str}/proceed",
        opt={"roles": FILERS, "body_type": ProceedRequest},
        sync_to_thread=True,
        summary="Break-glass: proceed now, review after the fact",
        description="Only the filer, only for tiers whose policy allows it, and only with a reason. The decision "
        "becomes proceeded_pending_review and stays in the approvers' inbox until ratified or rejected.",
        status_code=200,
        responses=problems(404, 409),
    )
    def proceed(
        self, request: Request[Any, Any, Any], decision_id: FromPath[str], data: JSONBody[ProceedRequest]
    ) -> DecisionView:
        return runtime_of(request).service.proceed(request.user, decision_id, data)


@post(
    "/classify",
    # A dry run: a read-scoped token may call it too (api.auth).
    opt={"roles": READERS, "body_type": FilingRequest, "changes_nothing": True},
    sync_to_thread=True,
    tags=["decisions"],
    summary="Dry run: tier, route and explanation; nothing is stored",
    description="Same body as filing; answers what filing it would do, with the rules that matched.",
    status_code=200,
)
def classify(request: Request[Any, Any, Any], data: JSONBody[FilingRequest]) -> ClassificationView:
    return runtime_of(request).service.classify(request.user, data)


@get(
    "/inbox",
    opt={"roles": DECIDERS},
    sync_to_thread=True,
    tags=["decisions"],
    summary="What waits on me",
    description="Decisions whose route needs your sign-off (in your own right or under a delegation), and "
    "overdue ones the policy escalates to you, oldest first unless `sort` says otherwise. Page with `cursor`: "
    "each page names the next one, for the same `sort` (a cursor of another sort is refused).",
    responses=problems(422),
)
def inbox(
    request: Request[Any, Any, Any],
    sort: Annotated[
        InboxSort,
        QueryParameter(
            description="oldest (the longest wait) or newest filed first, highest tier first, or due "
            "soonest first (filing time plus the tier's SLA, tiers without an SLA last, oldest first); "
            "highest tier first is oldest first within a tier"
        ),
    ] = "oldest",
    cursor: FromQuery[str | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
) -> InboxPage:
    return runtime_of(request).service.inbox(request.user, cursor, limit, sort)
