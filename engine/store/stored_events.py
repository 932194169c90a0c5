"""Reading the stored log back for verification: every event with its query columns, in seq order.

This is the one loop that touches every row of a large log, so it does the least per row: SQLite
hands the body over as bytes (no decode to text and encode back) and its time column's text is
respelled in the loop; PostgreSQL formats the time in SQL. Either way the verifier compares the
time as it stands; a row whose time is spelled another way is still judged by the instant it
names (the verifier's `same_instant`, on mismatch only).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from typing import Any

from sqlalchemy import Engine, bindparam, func, select

from engine.log.chain import Record
from engine.store.tables import Event

_events = Event.__table__  # type: ignore[attr-defined]
#: A Record from its five fields without the named tuple's Python-level __new__.
_record = tuple.__new__

_SQLITE = """
SELECT seq, CAST(body AS BLOB), leaf_hash, prev_hash, decision_id, type, actor, at FROM events
WHERE seq >= ? ORDER BY seq
"""
_POSTGRES = select(
    _events.c.seq, _events.c.body, _events.c.leaf_hash, _events.c.prev_hash, _events.c.decision_id,
    _events.c.type, _events.c.actor,
    func.to_char(func.timezone("UTC", _events.c.at), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
).where(_events.c.seq >= bindparam("start")).order_by(_events.c.seq)  # fmt: skip


_SQLITE_BODIES = "SELECT CAST(body AS BLOB) FROM events ORDER BY seq"
_POSTGRES_BODIES = select(_events.c.body).order_by(_events.c.seq)


def stored_bodies(engine: Engine, batch: int = 5000) -> Generator[bytes | str]:
    """Every stored event body, in seq order, and nothing else (the replay audit reads only bodies)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            cursor = conn.connection.driver_connection.execute(_SQLITE_BODIES)  # type: ignore[union-attr]
            for part in iter(lambda: cursor.fetchmany(batch), []):
                for (body,) in part:
                    yield body
        else:
            for rows in conn.execute(_POSTGRES_BODIES.execution_options(yield_per=batch)).partitions():
                for (body,) in rows:
                    yield body


def stored_records(engine: Engine, batch: int = 5000, start: int = 0) -> Generator[Record]:
    """Every stored event from seq `start` on as a chain Record (query columns in chain.QUERY_COLUMNS order)."""
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            # The driver's own cursor: SQLAlchemy's row layer cost a third of verifying from SQLite.
            cursor = conn.connection.driver_connection.execute(_SQLITE, (start,))  # type: ignore[union-attr]
            parts: Iterator[Sequence[Any]] = iter(lambda: cursor.fetchmany(batch), [])
        else:
            parts = conn.execute(_POSTGRES.execution_options(yield_per=batch), {"start": start}).partitions()
        for part in parts:
            if sqlite:
                for seq, body, leaf, prev, decision_id, kind, actor, at in part:
                    # SQLAlchemy's SQLite text for a UTC time, '2026-03-02 09:00:00.000000', in the log's
                    # spelling (here, not in SQL: a CASE per row cost more than this line).
                    if type(at) is str and len(at) == 26 and at[10] == " ":
                        at = at[:10] + "T" + at[11:] + "Z"
                    yield _record(Record, (seq, body, leaf, prev, (decision_id, kind, actor, at)))
            else:
                for seq, body, leaf, prev, decision_id, kind, actor, at in part:
                    yield _record(Record, (seq, body.encode(), leaf, prev, (decision_id, kind, actor, at)))
