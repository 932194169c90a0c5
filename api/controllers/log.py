"""The log for auditors: verify and export (streamed)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import Request, get
from litestar.params import FromQuery, QueryParameter
from litestar.response import Stream

from api.auth import AUDITORS, runtime_of
from engine.log.chain import VerifyResult
from engine.log.export import ExportFilter, export_lines
from engine.log.proofs import ConsistencyProof, InclusionProof, prove_consistency, prove_inclusion


@get(
    "/log/proof/inclusion",
    opt={"roles": AUDITORS},
    sync_to_thread=True,
    tags=["log"],
    summary="RFC 9162 inclusion proof of event `seq` in the tree of `size` (default: the whole log)",
)
def inclusion(
    request: Request[Any, Any, Any],
    seq: Annotated[int, QueryParameter(ge=0)],
    size: Annotated[int | None, QueryParameter(ge=1)] = None,
) -> InclusionProof:
    return prove_inclusion(runtime_of(request).service.engine, seq, size)


@get(
    "/log/proof/consistency",
    opt={"roles": AUDITORS},
    sync_to_thread=True,
    tags=["log"],
    summary="RFC 9162 consistency proof between tree sizes `from` and `to` (default: the whole log)",
)
def consistency(
    request: Request[Any, Any, Any],
    first: Annotated[int, QueryParameter(ge=0, name="from")],
    second: Annotated[int | None, QueryParameter(ge=0, name="to")] = None,
) -> ConsistencyProof:
    return prove_consistency(runtime_of(request).service.engine, first, second)


MEDIA = {"jsonl": "application/jsonl", "csv": "text/csv; charset=utf-8"}


@get("/log/verify", opt={"roles": AUDITORS}, sync_to_thread=True, tags=["log"], summary="Verify the whole chain")
def verify(request: Request[Any, Any, Any]) -> VerifyResult:
    return runtime_of(request).service.verify_log()


@get(
    "/log/export",
    opt={"roles": frozenset({"auditor"})},
    sync_to_thread=False,
    tags=["log"],
    summary="Export the log, streamed: JSONL lines are the stored bodies byte for byte",
)
def export(
    request: Request[Any, Any, Any],
    format: FromQuery[Literal["jsonl", "csv"]] = "jsonl",
    since: FromQuery[datetime | None] = None,
    until: FromQuery[datetime | None] = None,
    category: FromQuery[str | None] = None,
    tier: Annotated[int | None, QueryParameter(ge=1, le=3)] = None,
) -> Stream:
    engine = runtime_of(request).service.engine
    flt = ExportFilter(since=since, until=until, category=category, tier=tier)
    return Stream(
        export_lines(engine, format, flt),
        media_type=MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="decision-log.{format}"'},
    )
