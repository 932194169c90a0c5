"""Reading what a digest needs from the store: decision states as of an instant, replayed from the log.

The decisions table only narrows which decisions to replay (indexed by filing and
decision time); every state a digest shows is the fold of that decision's events with
`at` before the window's end, so a closed window reads the same whenever it is asked for.
Event times never go backwards (the appender stamps them under the chain lock), so the
events before an instant are a prefix of the log.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import msgspec
from sqlalchemy import Engine, func, select, union

from engine.read_model import fold
from engine.store.db import read_transaction
from engine.store.tables import Decision, Event
from engine.types import OPEN_STATUSES

T = TypeVar("T")

_decisions = Decision.__table__  # type: ignore[attr-defined]
_events = Event.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class LogPosition:
    size: int
    head_hash: str


def log_position_at(engine: Engine, end: datetime) -> LogPosition:
    """The log's size and head hash just before `end`: two index seeks, never a count of the log."""
    from engine.log.canonical import GENESIS_PREV

    with read_transaction(engine) as conn:
        # `at` never decreases along seq, so the events before `end` are the prefix up to the last seq
        # stamped with the latest time before `end` (a group-commit batch shares one time).
        last_at = conn.execute(select(func.max(_events.c.at)).where(_events.c.at < end)).scalar()
        if last_at is None:
            return LogPosition(size=0, head_hash=GENESIS_PREV)
        row = conn.execute(
            select(_events.c.seq, _events.c.leaf_hash).where(_events.c.at == last_at).order_by(_events.c.seq.desc())
        ).first()
        assert row is not None
    return LogPosition(size=int(row.seq) + 1, head_hash=row.leaf_hash)


def states_as_of(engine: Engine, filed_since: datetime, end: datetime) -> list[dict[str, Any]]:
    """Decisions filed in [filed_since, end), and every decision still open at `end`, as they stood at `end`.

    Each is the fold of its events before `end`: the cost is per decision shown, so a digest asks
    only for its own window's (the trend is counted by `tier_counts`)."""
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


class _TierData(msgspec.Struct):
    tier: int


class _TierEvent(msgspec.Struct):
    """Only what counting needs from a filing or an amendment: decoding the rest costs more than the query."""

    data: _TierData


_TIER_EVENTS = ("decision_filed", "decision_amended")
_tier_event = msgspec.json.Decoder(_TierEvent)


def tier_counts(engine: Engine, windows: Sequence[Any], end: datetime) -> list[Counter[int]]:
    """Per window, how many decisions were filed in it at each tier, the tier as of `end`.

    Tier changes only by amendment. A decision never amended (most) has its filing tier in
    the read model, counted there by an indexed aggregate per window; the few amended ones
    are replayed from their filing and amendment events before `end`, so a later amendment
    never changes a closed window's counts.
    """
    if not windows:
        return []
    counts: list[Counter[int]] = [Counter() for _ in windows]
    with read_transaction(engine) as conn:
        for i, w in enumerate(windows):
            upto = min(w.end, end)
            rows = conn.execute(
                select(_decisions.c.tier, func.count())
                .where(_decisions.c.created_at >= w.start, _decisions.c.created_at < upto, _decisions.c.amendments == 0)
                .group_by(_decisions.c.tier)
            )
            counts[i].update({tier: n for tier, n in rows})
        first, last = min(w.start for w in windows), min(max(w.end for w in windows), end)
        amended = conn.execute(
            select(_decisions.c.id, _decisions.c.created_at).where(
                _decisions.c.created_at >= first, _decisions.c.created_at < last, _decisions.c.amendments > 0
            )
        ).all()
        pairs: list[tuple[str, datetime]] = sorted((row.id, row.created_at) for row in amended)
        for chunk in _chunks(pairs, 500):
            filed_at = dict(chunk)
            tiers: dict[str, int] = {}
            rows = conn.execute(
                select(_events.c.decision_id, _events.c.body)
                .where(
                    _events.c.decision_id.in_(list(filed_at)),
                    _events.c.type.in_(_TIER_EVENTS),
                    _events.c.at < end,
                )
                .order_by(_events.c.seq)
            )
            for decision_id, body in rows:
                tiers[decision_id] = _tier_event.decode(body).data.tier
            for decision_id, tier in tiers.items():
                for i, w in enumerate(windows):
                    if w.start <= filed_at[decision_id] < min(w.end, end):
                        counts[i][tier] += 1
    return counts


def _chunks(items: list[T], size: int) -> Iterable[list[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
