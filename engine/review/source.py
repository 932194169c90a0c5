"""Reading what a digest needs from the store: decision states as of an instant.

Every state a digest shows is the fold of that decision's events with `at` before the window's
end, so a closed window reads the same whenever it is asked for. Event times never go backwards
(the appender stamps them under the chain lock), so the events before an instant are a prefix of
the log: a decision whose last event lies in that prefix stands in the read model exactly as that
fold, and is read from there; only decisions changed since are replayed from their events.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import msgspec
from sqlalchemy import (
    Connection,
    Engine,
    Result,
    Select,
    TextClause,
    TextualSelect,
    bindparam,
    column,
    func,
    or_,
    select,
    text,
    union_all,
)

from engine.gauges import overdue_cutoffs
from engine.queries import OPEN_SQL, unindexed, waiting_counts
from engine.read_model import fold
from engine.review.digest import PENDING_CAP, Waiting, merge_waiting, waiting_among
from engine.review.metrics import tagged, tiers_filed_query
from engine.store.db import read_transaction
from engine.store.tables import BREAK_GLASS_OPEN_SQL, OPEN_STATUSES_SQL, Decision, Event, LogHead
from policy.compiled import Policy

T = TypeVar("T")

_decisions = Decision.__table__  # type: ignore[attr-defined]
_events = Event.__table__  # type: ignore[attr-defined]
_head = LogHead.__table__  # type: ignore[attr-defined]


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


#: The read-model columns a digest shows (engine.review.digest.digest_decision) and orders by.
_DIGEST_COLUMNS = tuple(
    _decisions.c[n]
    for n in ("id", "filed_seq", "title", "category", "squad", "tier", "status", "filed_by", "created_at",
              "decided_at", "approvals", "break_glass_reason", "known_category")
)  # fmt: skip


def digest_rows(
    engine: Engine,
    policy: Policy,
    start: datetime,
    end: datetime,
    as_of: datetime,
    size_at_end: int,
    cap: int = PENDING_CAP,
) -> tuple[list[dict[str, Any]], Waiting]:
    """The decisions filed in [start, end) and those waiting at `end`, as they stood at `end` (in filing order).

    A decision none of whose events is at or after `end` stands in the read model exactly as the fold of
    its events before `end`: it is read from there. For a window still open (nothing is logged at or after
    its end) that is every decision, so nothing is replayed; for a closed one only the decisions changed
    since its end are replayed from their events. The waiting ones are counted in SQL and only the oldest
    `cap` are read (with every one under break-glass). `size_at_end`: the log's size at `end` (log_position_at)."""
    with read_transaction(engine) as conn:
        size = conn.execute(select(_head.c.size)).scalar_one()
        # Open: nothing logged at or after `end`, and anything appended meanwhile is stamped now, before it.
        window_open = size == size_at_end and as_of < end
        unchanged = [] if window_open else [_decisions.c.last_seq < size_at_end]
        in_window = _states(
            conn.execute(
                select(*_DIGEST_COLUMNS)
                .where(_decisions.c.created_at >= start, _decisions.c.created_at < end, *unchanged)
                .order_by(_decisions.c.filed_seq)
            )
        )
        waiting = _waiting_in_read_model(conn, policy, end, as_of, cap, None if window_open else size_at_end)
        if not window_open:
            replayed = _replayed(conn, start, end, size_at_end)
            in_window = list(heapq.merge(in_window, [s for s in replayed if s["created_at"] >= start], key=_seq))
            waiting = merge_waiting(waiting, waiting_among(policy, replayed, as_of, cap), cap)
    return in_window, waiting


def _states(result: Result[Any]) -> list[dict[str, Any]]:
    """Rows as dicts, the column names read once (a window lists ~2,000: `RowMapping` asks for them per row),
    fetched in one call (row by row, psycopg's per-row fetch is a third of the read)."""
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.all()]


def _seq(state: dict[str, Any]) -> int:
    return int(state["filed_seq"])


def _waiting_in_read_model(
    conn: Connection, policy: Policy, end: datetime, as_of: datetime, cap: int, before_seq: int | None
) -> Waiting:
    """Decisions open in the read model, filed before `end` (and, for a closed window, unchanged since:
    last event before `before_seq`): counted over `ix_decisions_open`, the oldest `cap` read off it in
    filing order, the break-glass ones off `ix_decisions_break_glass`."""
    total, overdue = conn.execute(
        waiting_counts(overdue_cutoffs(policy, as_of), end, before_seq, conn.dialect.name)
    ).one()
    shown = conn.execute(waiting_query(end, before_seq).limit(cap))
    with_reason = conn.execute(break_glass_query(end, before_seq, conn.dialect.name))
    without = conn.execute(bare_break_glass_query(end, before_seq))
    given, bare = (_states(result) for result in (with_reason, without))
    break_glass = list(heapq.merge(given, bare, key=_seq))
    return Waiting(
        shown=_states(shown),
        total=int(total),
        overdue=int(overdue or 0),
        break_glass=break_glass,
    )


def waiting_query(end: datetime, before_seq: int | None) -> Select[Any]:
    """Open decisions filed before `end` (with `before_seq`, only those whose last event came before it), in
    filing order off `ix_decisions_open` (the filing time is kept off its own index, as for the inbox)."""
    scope = [OPEN_SQL, unindexed(_decisions.c.created_at) < end]
    if before_seq is not None:
        scope.append(_decisions.c.last_seq < before_seq)
    return select(*_DIGEST_COLUMNS).where(*scope).order_by(_decisions.c.filed_seq)


def break_glass_query(end: datetime, before_seq: int | None, dialect: str) -> TextualSelect:
    """The waiting ones under break-glass with a reason given, in filing order, off the partial index
    `ix_decisions_break_glass`. SQLite is told the index: it would rather walk every open decision
    (`ix_decisions_open` gives the same order) and read each row for its reason."""
    hint = " INDEXED BY ix_decisions_break_glass" if dialect == "sqlite" else ""
    unchanged = "" if before_seq is None else " AND last_seq < :before_seq"
    params = [bindparam("end", end, type_=_decisions.c.created_at.type)]
    if before_seq is not None:
        params.append(bindparam("before_seq", before_seq))
    names = ", ".join(c.name for c in _DIGEST_COLUMNS)
    return (
        text(
            f"SELECT {names} FROM decisions{hint} WHERE {BREAK_GLASS_OPEN_SQL} AND break_glass_reason != ''"
            f" AND created_at < :end{unchanged} ORDER BY filed_seq"
        )
        .bindparams(*params)
        .columns(*(column(c.name, c.type) for c in _DIGEST_COLUMNS))
    )


def bare_break_glass_query(end: datetime, before_seq: int | None) -> Select[Any]:
    """The break-glass status without a reason: never written by the rules, read for exactness, off
    (status, filed_seq) (the open statuses kept off `ix_decisions_open`, which would read every open row)."""
    reason = _decisions.c.break_glass_reason
    scope = [_decisions.c.status == "proceeded_pending_review", unindexed(_decisions.c.created_at) < end]
    if before_seq is not None:
        scope.append(_decisions.c.last_seq < before_seq)
    return select(*_DIGEST_COLUMNS).where(*scope, or_(reason.is_(None), reason == "")).order_by(_decisions.c.filed_seq)


def changed_since_query(start: datetime, end: datetime, size: int, dialect: str) -> TextClause:
    """Ids of the decisions a closed window shows whose last event is at or after `size` (see _replayed): those
    filed in it, those still open, those decided since and filed before its end; the last two read off
    `ix_decisions_open` and `ix_decisions_decided_at`, which hold the filing time and the last event
    (migration 0023). SQLite is told the indexes: without statistics it would as soon read every decision
    filed before the end, or seek (status, filed_seq) and read the row of every open decision."""
    sqlite = dialect == "sqlite"
    open_hint = " INDEXED BY ix_decisions_open" if sqlite else ""
    decided_hint = " INDEXED BY ix_decisions_decided_at" if sqlite else ""
    changed = "created_at < :end AND last_seq >= :size"
    return text(
        f"SELECT id FROM decisions WHERE created_at >= :start AND {changed}"
        f" UNION SELECT id FROM decisions{open_hint} WHERE {OPEN_STATUSES_SQL} AND {changed}"
        f" UNION SELECT id FROM decisions{decided_hint} WHERE decided_at >= :end AND {changed}"
    ).bindparams(
        bindparam("start", start, type_=_decisions.c.created_at.type),
        bindparam("end", end, type_=_decisions.c.created_at.type),
        bindparam("size", size),
    )


def _replayed(conn: Connection, start: datetime, end: datetime, size: int) -> list[dict[str, Any]]:
    """The decisions a closed window shows that changed since its end (last event at or after `size`), each
    the fold of its events before `end`: those filed in the window, and those open at `end` (still open
    now, or decided since)."""
    ids = conn.execute(changed_since_query(start, end, size, conn.dialect.name)).scalars().all()
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
    return sorted(states.values(), key=_seq)  # filing order: the log's own order


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
        # One statement for every window (each a round trip to PostgreSQL otherwise).
        per_window = [
            tagged(i, tiers_filed_query(w.start, min(w.end, end), unamended=True)) for i, w in enumerate(windows)
        ]
        for i, tier, n in conn.execute(union_all(*per_window)):
            counts[i][tier] += int(n)
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
