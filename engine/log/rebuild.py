"""Rebuilding the decisions read model from the log, and proving the two agree."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import msgspec
from sqlalchemy import Connection, Engine, delete, insert, select

from engine.log.appender import read_head
from engine.read_model import fold
from engine.store.counts import day_counts, decision_counts, recount, recount_days
from engine.store.db import read_transaction, write_transaction
from engine.store.tables import Decision, Event

_events = Event.__table__  # type: ignore[attr-defined]
_decisions = Decision.__table__  # type: ignore[attr-defined]


@dataclass
class RebuildReport:
    events: int = 0
    decisions: int = 0
    missing: list[str] = field(default_factory=list)  # in the log, not in the table
    extra: list[str] = field(default_factory=list)  # in the table, not in the log
    different: dict[str, list[str]] = field(default_factory=dict)  # id -> differing columns
    #: "tier/status" (decision_counts) or "day/tier" (decision_days) -> (the replay's count, the table's).
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.different or self.counts)


def replay(conn: Connection, progress: Callable[[int], None] | None = None) -> tuple[dict[str, dict[str, Any]], int]:
    """Fold every event of the log into decision rows."""
    rows: dict[str, dict[str, Any]] = {}
    count = 0
    result = conn.execute(select(_events.c.body).order_by(_events.c.seq).execution_options(yield_per=5000))
    for (body_text,) in result:
        body = msgspec.json.decode(body_text)
        decision_id = body.get("decision_id")
        if decision_id is not None:
            new = fold(rows.get(decision_id), body)
            if new is not None:
                rows[decision_id] = new
        count += 1
        if progress and count % 5000 == 0:
            progress(count)
    if progress:
        progress(count)
    return rows, count


def compare(engine: Engine, progress: Callable[[int], None] | None = None) -> RebuildReport:
    seen: set[str] = set()
    with read_transaction(engine) as conn:
        expected, count = replay(conn, progress)
        report = RebuildReport(events=count, decisions=len(expected))
        for row in conn.execute(select(_decisions)).mappings():
            decision_id = row["id"]
            seen.add(decision_id)
            want = expected.get(decision_id)
            if want is None:
                report.extra.append(decision_id)
                continue
            differing = sorted(k for k, v in want.items() if row[k] != v)
            if differing:
                report.different[decision_id] = differing
        held = decision_counts(conn)
        held_days = day_counts(conn)
    replayed = Counter((row["tier"], row["status"]) for row in expected.values())
    report.counts = {
        f"{t}/{s}": (replayed[(t, s)], held[(t, s)])
        for t, s in sorted(replayed.keys() | held.keys())
        if replayed[(t, s)] != held[(t, s)]
    }
    days = Counter((row["created_at"].astimezone(UTC).date(), row["tier"]) for row in expected.values())
    report.counts |= {
        f"{d.isoformat()}/{t}": (days[(d, t)], held_days[(d, t)])
        for d, t in sorted(days.keys() | held_days.keys())
        if days[(d, t)] != held_days[(d, t)]
    }
    report.missing = sorted(set(expected) - seen)
    return report


def apply(engine: Engine, progress: Callable[[int], None] | None = None) -> RebuildReport:
    """Replace the read model with the replay of the log, in one transaction."""
    with write_transaction(engine) as conn:
        read_head(conn, lock=True)  # no append may land between the replay and the swap
        expected, count = replay(conn, progress)
        conn.execute(delete(_decisions))
        if expected:
            conn.execute(insert(_decisions), list(expected.values()))
        # The triggers counted the swap row by row; counting again from the new rows also mends a
        # table that a load with the triggers off left behind.
        recount(conn)
        recount_days(conn)
    return RebuildReport(events=count, decisions=len(expected))
