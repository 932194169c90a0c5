"""Streaming exports of the log: JSONL (stored bodies, byte for byte) and CSV (readable columns).

Rows are fetched in batches with a server-side cursor, so memory stays flat for
millions of events.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import msgspec
from sqlalchemy import Engine, and_, select

from engine.log.canonical import format_at
from engine.store.tables import Decision, Event
from engine.text_safety import csv_cell

ExportFormat = Literal["jsonl", "csv"]
CSV_COLUMNS = ["seq", "time", "type", "decision", "actor", "tier", "status", "prev_hash", "leaf_hash", "body"]

_events = Event.__table__  # type: ignore[attr-defined]
_decisions = Decision.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class ExportFilter:
    since: datetime | None = None
    until: datetime | None = None
    category: str | None = None
    tier: int | None = None

    @property
    def by_decision(self) -> bool:
        return self.category is not None or self.tier is not None

    @property
    def is_whole_log(self) -> bool:
        return not (self.by_decision or self.since or self.until)


def _query(flt: ExportFilter) -> Any:
    query = (
        select(
            _events.c.seq,
            _events.c.body,
            _events.c.type,
            _events.c.actor,
            _events.c.at,
            _events.c.decision_id,
            _events.c.prev_hash,
            _events.c.leaf_hash,
            _decisions.c.tier,
        )
        .select_from(_events.outerjoin(_decisions, _decisions.c.id == _events.c.decision_id))
        .order_by(_events.c.seq)
    )
    conditions = []
    if flt.since is not None:
        conditions.append(_events.c.at >= flt.since)
    if flt.until is not None:
        conditions.append(_events.c.at < flt.until)
    if flt.category is not None:
        conditions.append(_decisions.c.category == flt.category)
    if flt.tier is not None:
        conditions.append(_decisions.c.tier == flt.tier)
    return query.where(and_(*conditions)) if conditions else query


def iter_rows(engine: Engine, flt: ExportFilter, batch: int = 5000) -> Iterator[Any]:
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=batch, stream_results=True).execute(_query(flt))
        yield from result


def export_lines(
    engine: Engine,
    fmt: ExportFormat,
    flt: ExportFilter | None = None,
    progress: Callable[[int], None] | None = None,
    batch: int = 5000,
) -> Iterator[bytes]:
    """Yield the export in chunks of bytes; `progress(n)` is called with events done so far."""
    flt = flt or ExportFilter()
    done = 0
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
    chunk: list[bytes] = []
    for row in iter_rows(engine, flt, batch):
        if fmt == "jsonl":
            chunk.append(row.body.encode() + b"\n")
        else:
            data = msgspec.json.decode(row.body).get("data", {})
            writer.writerow(
                [
                    row.seq,
                    format_at(row.at),
                    csv_cell(row.type),
                    csv_cell(row.decision_id),
                    csv_cell(row.actor),
                    row.tier if row.tier is not None else "",
                    csv_cell(data.get("status")),
                    row.prev_hash,
                    row.leaf_hash,
                    csv_cell(row.body),
                ]
            )
        done += 1
        if done % batch == 0:
            yield from _flush(fmt, chunk, buffer if fmt == "csv" else None)
            chunk = []
            if progress:
                progress(done)
    yield from _flush(fmt, chunk, buffer if fmt == "csv" else None)
    if progress:
        progress(done)


def _flush(fmt: str, chunk: list[bytes], buffer: io.StringIO | None) -> Iterator[bytes]:
    if fmt == "jsonl":
        if chunk:
            yield b"".join(chunk)
        return
    assert buffer is not None
    text = buffer.getvalue()
    if text:
        yield text.encode()
    buffer.seek(0)
    buffer.truncate()
