"""Appending to the log: the only code that writes `events` (SQLAlchemy Core, never the ORM).

Call inside `engine.store.db.write_transaction`: on SQLite that transaction began
with BEGIN IMMEDIATE; on PostgreSQL the chain head row is locked FOR UPDATE here,
under READ COMMITTED, so concurrent writers queue on it and never fork the chain.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from engine.errors import LogIntegrityError
from engine.log.canonical import GENESIS_PREV, canonical_bytes, leaf_hash, make_body
from engine.log.merkle import frontier_append
from engine.store.tables import Event, LogHead

HEAD_ID = 1
_events = Event.__table__  # type: ignore[attr-defined]
_head = LogHead.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class NewEvent:
    type: str
    actor: str
    decision_id: str | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AppendedEvent:
    seq: int
    body: bytes
    leaf_hash: str
    prev_hash: str
    type: str
    actor: str
    at: datetime
    decision_id: str | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ChainHead:
    origin: str | None
    size: int
    head_hash: str
    frontier: list[str]
    policy_version: str | None


# Statements built once: constructing a Core statement (coercion, cache key) cost more than
# executing it on the append path, which every filing takes under the chain lock.
_SELECT_HEAD = select(_head.c.origin, _head.c.size, _head.c.head_hash, _head.c.frontier, _head.c.policy_version).where(
    _head.c.id == HEAD_ID
)
_SELECT_HEAD_FOR_UPDATE = _SELECT_HEAD.with_for_update()
_SELECT_AT = select(_events.c.at).where(_events.c.seq == bindparam("at_seq"))
_INSERT_EVENTS = insert(_events)
_UPDATE_HEAD = update(_head).where(_head.c.id == bindparam("head_id"), _head.c.size == bindparam("expected_size"))


def read_head(conn: Connection, *, lock: bool = False) -> ChainHead:
    query = _SELECT_HEAD_FOR_UPDATE if lock and conn.dialect.name == "postgresql" else _SELECT_HEAD
    row = conn.execute(query).first()
    if row is None:
        raise LogIntegrityError("the log's chain head is missing: run `decisions db upgrade`")
    return ChainHead(
        origin=row.origin,
        size=row.size,
        head_hash=row.head_hash,
        frontier=list(row.frontier),
        policy_version=row.policy_version,
    )


@dataclass(slots=True)
class ChainTip:
    """The head as this transaction has moved it, so consecutive appends in one transaction (a
    group-commit batch) neither re-read the head row nor write per append: their events are
    inserted together and the head row rewritten once, by `write_tip`, which the tip's owner
    calls before committing. Until then the events are only here: nothing may read `events`
    in a write transaction (nothing does; reads go through read transactions). Bound to one
    connection: any other writer is caught by the head update's size check and the seq key."""

    conn: Connection
    origin: str | None
    size: int
    head_hash: str
    #: The Merkle frontier as bytes (the head row keeps hex).
    frontier: list[bytes]
    policy_version: str | None
    last_at: datetime | None
    #: The size the head row holds in the database; `size` once written.
    stored_size: int
    #: Rows of the events appended since, not yet inserted.
    pending: list[dict[str, Any]] = field(default_factory=list)


def read_tip(conn: Connection) -> ChainTip:
    """Lock and read the head, and the time of the last event, once per write transaction."""
    head = read_head(conn, lock=True)
    last_at = conn.execute(_SELECT_AT, {"at_seq": head.size - 1}).scalar_one() if head.size > 0 else None
    frontier = [bytes.fromhex(h) for h in head.frontier]
    return ChainTip(
        conn, head.origin, head.size, head.head_hash, frontier, head.policy_version, last_at, stored_size=head.size
    )


def write_tip(tip: ChainTip) -> None:
    """Insert the events appended through `tip` and write the head as they left it."""
    if tip.size == tip.stored_size:
        return
    tip.conn.execute(_INSERT_EVENTS, tip.pending)
    tip.pending = []
    result = tip.conn.execute(
        _UPDATE_HEAD,
        {
            "head_id": HEAD_ID,
            "expected_size": tip.stored_size,
            "origin": tip.origin,
            "size": tip.size,
            "head_hash": tip.head_hash,
            "frontier": [h.hex() for h in tip.frontier],
            "policy_version": tip.policy_version,
        },
    )
    if result.rowcount != 1:
        # Someone else moved the head under us: only possible if serialisation failed.
        raise LogIntegrityError("the chain head moved during an append; retry")
    tip.stored_size = tip.size


def append_events(
    conn: Connection,
    origin: str,
    clock: Callable[[], datetime],
    events: Sequence[NewEvent],
    tip: ChainTip | None = None,
) -> list[AppendedEvent]:
    """Append `events` at the chain head; returns them with seq, time and hashes.

    The time is read after the head lock is held and never goes backwards along the
    chain (clocks of several workers may disagree), so `at` is monotonic in `seq`
    and a verifier can treat a backwards step as backdating. A `tip` that belongs to
    `conn` stands in for reading the head and is moved forward; its owner writes it
    (`write_tip`) before the commit. Without one, the head row is written here.
    """
    owned = tip is not None and tip.conn is conn
    if not owned:
        tip = read_tip(conn)
    assert tip is not None
    at = clock()
    if tip.last_at is not None:
        at = max(at, tip.last_at)
    if tip.origin is not None and tip.origin != origin:
        raise LogIntegrityError(
            f"this database holds the log {tip.origin!r}, not {origin!r}; set DECISIONS_LOG_ORIGIN to match"
        )
    size, prev = tip.size, tip.head_hash
    frontier = tip.frontier
    appended: list[AppendedEvent] = []
    for new in events:
        body = canonical_bytes(
            make_body(
                origin=origin,
                seq=size,
                prev=prev,
                type=new.type,
                actor=new.actor,
                at=at,
                decision_id=new.decision_id,
                data=new.data,
            )
        )
        leaf = leaf_hash(body)
        frontier = frontier_append(frontier, size, leaf)
        appended.append(
            AppendedEvent(
                seq=size,
                body=body,
                leaf_hash=leaf.hex(),
                prev_hash=prev,
                type=new.type,
                actor=new.actor,
                at=at,
                decision_id=new.decision_id,
                data=new.data,
            )
        )
        size, prev = size + 1, leaf.hex()
    tip.pending.extend(
        {
            "seq": e.seq,
            "body": e.body.decode(),
            "leaf_hash": e.leaf_hash,
            "prev_hash": e.prev_hash,
            "decision_id": e.decision_id,
            "type": e.type,
            "actor": e.actor,
            "at": e.at,
        }
        for e in appended
    )
    for e in appended:
        if e.type == "policy_activated":
            tip.policy_version = e.data["version"]
    tip.origin, tip.size, tip.head_hash, tip.frontier, tip.last_at = origin, size, prev, frontier, at
    if not owned:
        write_tip(tip)
    return appended


def genesis_head_row() -> dict[str, Any]:
    return {"id": HEAD_ID, "origin": None, "size": 0, "head_hash": GENESIS_PREV, "frontier": [], "policy_version": None}
