"""The Merkle root of the log's first `size` stored leaf hashes, in constant memory.

Start-up compares it with the last signed checkpoint. It used to load every leaf hash of the
signed prefix into a list (32 bytes plus a Python object each: 240 MB at a million events), in
each process that started. Now the leaves stream into a Merkle frontier (O(log n) hashes), and
when a stored ok verification covers part of the prefix, only the leaves after it are read.

A stored frontier is a shortcut, never a verdict: a row that does not hold together is skipped,
and when the shortcut's root disagrees with what the caller expects, the root is computed again
from the first leaf before anyone is told the log was altered.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, select

from engine.log.merkle import EMPTY_ROOT, frontier_root
from engine.log.verifications import resumable
from engine.store.db import read_transaction
from engine.store.tables import Event

_events = Event.__table__  # type: ignore[attr-defined]
_node = b"\x01"


def extend_frontier(conn: Connection, frontier: list[bytes], start: int, size: int) -> list[bytes]:
    """Append leaves [start, size) to the frontier of the first `start` (in place; frontier_append inlined)."""
    sha256, fromhex, push, pop = hashlib.sha256, bytes.fromhex, frontier.append, frontier.pop
    n = start
    for part in _leaf_batches(conn, start, size):
        for (leaf_hex,) in part:
            node = fromhex(leaf_hex)
            m = n
            while m & 1:
                node = sha256(_node + pop() + node).digest()
                m >>= 1
            push(node)
            n += 1
    if n != size:
        raise LookupError(f"the log holds {n} of the first {size} events")
    return frontier


_SQLITE_LEAVES = "SELECT leaf_hash FROM events WHERE seq >= ? AND seq < ? ORDER BY seq"


def _leaf_batches(conn: Connection, start: int, size: int, batch: int = 20000) -> Iterator[Sequence[Any]]:
    """Leaf hashes in seq order, in batches. On SQLite through the driver's own cursor: SQLAlchemy's row
    layer was most of the time of a start-up's pass over a million leaves (as it was for verification)."""
    if conn.dialect.name == "sqlite":
        cursor = conn.connection.driver_connection.execute(_SQLITE_LEAVES, (start, size))  # type: ignore[union-attr]
        yield from iter(lambda: cursor.fetchmany(batch), [])
        return
    query = select(_events.c.leaf_hash).where(_events.c.seq >= start, _events.c.seq < size).order_by(_events.c.seq)
    yield from conn.execute(query.execution_options(yield_per=batch)).partitions()


def _stored_start(conn: Connection, engine: Engine, size: int) -> tuple[int, list[bytes]]:
    """The stored ok verification of the most events up to `size`, when it holds together; else (0, [])."""
    base = resumable(engine, at_most=size, after_id=None)
    if base is None or base.record.size == 0:
        return 0, []
    rec = base.record
    try:
        frontier = [bytes.fromhex(node) for node in base.frontier]
    except (TypeError, ValueError):
        return 0, []
    if len(frontier) != rec.size.bit_count() or frontier_root(frontier, rec.size).hex() != rec.root:
        return 0, []
    last = conn.execute(select(_events.c.leaf_hash).where(_events.c.seq == rec.size - 1)).scalar()
    if last != rec.head_hash:
        return 0, []
    return rec.size, frontier


def prefix_root_is(engine: Engine, size: int, expected: bytes) -> bool:
    """Whether the first `size` stored leaf hashes have the RFC 6962 root `expected` (constant memory).

    Raises LookupError when fewer than `size` events are stored.
    """
    if size == 0:
        return expected == EMPTY_ROOT
    with read_transaction(engine) as conn:
        start, frontier = _stored_start(conn, engine, size)
        if start and frontier_root(extend_frontier(conn, frontier, start, size), size) == expected:
            return True
        return frontier_root(extend_frontier(conn, [], 0, size), size) == expected


__all__ = ["extend_frontier", "prefix_root_is"]
