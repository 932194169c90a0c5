"""Reading what a digest needs from the store: decision states as of an instant, replayed from the log.

The decisions table only narrows which decisions to replay (indexed by filing and
decision time); every state a digest shows is the fold of that decision's events with
`at` before the window's end, so a closed window reads the same whenever it is asked for.
Event times never go backwards (the appender stamps them under the chain lock), so the
events before an instant are a prefix of the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Engine, func, select, union

from engine.read_model import fold
from engine.store.db import read_transaction
from engine.store.tables import Decision, Event
from engine.types import OPEN_STATUSES

_decisions = Decision.__table__  # type: ignore[attr-defined]
_events = Event.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class LogPosition:
    size: int
    head_hash: str


def log_position_at(engine: Engine, end: datetime) -> LogPosition:
    from engine.log.canonical import GENESIS_PREV

    with read_transaction(engine) as conn:
        size = conn.execute(select(func.count()).select_from(_events).where(_events.c.at < end)).scalar_one()
        head = GENESIS_PREV
        if size:
            head = conn.execute(select(_events.c.leaf_hash).where(_events.c.seq == size - 1)).scalar_one()
    return LogPosition(size=int(size), head_hash=head)


def states_as_of(engine: Engine, filed_since: datetime, end: datetime) -> list[dict[str, Any]]:
    """Decisions filed in [filed_since, end), and every decision still open at `end`, as they stood at `end`."""
    with read_transaction(engine) as conn:
        # Three indexed lookups, not one OR that would scan every decision ever filed.
        filed = select(_decisions.c.id).where(_decisions.c.created_at >= filed_since, _decisions.c.created_at < end)
        still_open = select(_decisions.c.id).where(
            _decisions.c.status.in_(OPEN_STATUSES), _decisions.c.created_at < end
        )
        closed_later = select(_decisions.c.id).where(_decisions.c.decided_at >= end, _decisions.c.created_at < end)
        ids = conn.execute(union(filed, still_open, closed_later)).scalars().all()
        states: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(sorted(ids), 500):
            rows = conn.execute(
                select(_events.c.decision_id, _events.c.body)
                .where(_events.c.decision_id.in_(chunk), _events.c.at < end)
                .order_by(_events.c.seq)
            )
            for decision_id, body in rows:
                state = fold(states.get(decision_id), msgspec.json.decode(body))
                if state is not None:
                    states[decision_id] = state
    return sorted(states.values(), key=lambda s: s["filed_seq"])  # filing order: the log's own order


def filed_between(engine: Engine, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """(filed at, tier at filing) of every decision filed in [start, end), from the filing events."""
    with read_transaction(engine) as conn:
        rows = conn.execute(
            select(_events.c.at, _events.c.body)
            .where(_events.c.type == "decision_filed", _events.c.at >= start, _events.c.at < end)
            .order_by(_events.c.seq)
        )
        return [(at, msgspec.json.decode(body)["data"]["tier"]) for at, body in rows]


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
