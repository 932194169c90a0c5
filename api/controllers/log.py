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
