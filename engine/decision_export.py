"""The flat decisions export: one CSV row per decision, from the same filters and order as the list."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from engine.log.canonical import format_at
from engine.text_safety import csv_cell
from engine.types import DecisionView

CSV_COLUMNS = ("id", "title", "category", "tier", "status", "filer", "squad", "filed", "decided", "approvers")


def approvers(view: DecisionView) -> str:
    """Who approved (and still counts): `tomas`, or `ravi for tomas` under a delegation; `; ` between them."""
    return "; ".join(
        f"{a.approver} for {a.on_behalf_of}" if a.on_behalf_of else a.approver
        for a in view.approvals
        if a.verdict == "approve" and not a.dismissed
    )


def decisions_csv(views: Iterable[DecisionView], chunk_rows: int = 500) -> Iterator[bytes]:
    """The CSV in chunks of bytes (a header, then one row per decision). Every text cell goes through
    csv_cell, so a title such as `=HYPERLINK(...)` stays text in a spreadsheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for rows, v in enumerate(views, start=1):
        writer.writerow(
            [
                csv_cell(v.id),
                csv_cell(v.title),
                csv_cell(v.category),
                v.tier,
                csv_cell(v.status),
                csv_cell(v.filed_by),
                csv_cell(v.squad),
                format_at(v.created_at),
                format_at(v.decided_at) if v.decided_at is not None else "",
                csv_cell(approvers(v)),
            ]
        )
        if rows % chunk_rows == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
