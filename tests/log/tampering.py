"""An attacker with write access to the database: drops the guards and edits the events table."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from engine.log.canonical import GENESIS_PREV, canonical_bytes, leaf_hash, parse_at
from engine.log.merkle import frontier_append
from engine.runtime import Runtime
from engine.store.guards import install_guards, installed_guards
from engine.store.tables import LogHead

INSERT = sa.text(
    "INSERT INTO events (seq, body, leaf_hash, prev_hash, decision_id, type, actor, at) "
    "VALUES (:seq, :body, :leaf_hash, :prev_hash, :decision_id, :type, :actor, :at)"
)


def drop_guards(rt: Runtime) -> None:
    with rt.service.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            for name in installed_guards(conn):
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
        else:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_refuse_change ON events")
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_refuse_truncate ON events")
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_next_seq ON events")


def restore_guards(rt: Runtime) -> None:
    """A careful attacker puts the triggers back, exactly as installed, after the edit."""
    with rt.service.engine.begin() as conn:
        install_guards(conn)


def rows(rt: Runtime) -> list[dict[str, Any]]:
    with rt.service.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text("SELECT * FROM events ORDER BY seq")).mappings()]


def row_for(body: dict[str, Any], seq: int | None = None) -> dict[str, Any]:
    """A consistent row for a body: canonical bytes, its leaf hash and matching query columns."""
    raw = canonical_bytes(body)
    return {
        "seq": body["seq"] if seq is None else seq,
        "body": raw.decode(),
        "leaf_hash": leaf_hash(raw).hex(),
        "prev_hash": body["prev"],
        "decision_id": body["decision_id"],
        "type": body["type"],
        "actor": body["actor"],
        "at": parse_at(body["at"]),
    }


def replace_rows(rt: Runtime, new_rows: list[dict[str, Any]], *, update_head: bool = False) -> None:
    with rt.service.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM events")
        for r in new_rows:
            conn.execute(INSERT, r)
        if update_head:
            frontier: list[bytes] = []
            for i, r in enumerate(new_rows):
                frontier = frontier_append(frontier, i, bytes.fromhex(r["leaf_hash"]))
            head = new_rows[-1]["leaf_hash"] if new_rows else GENESIS_PREV
            conn.execute(
                sa.update(LogHead.__table__).values(  # type: ignore[attr-defined]
                    size=len(new_rows), head_hash=head, frontier=[f.hex() for f in frontier]
                )
            )


def rewrite_from(rt: Runtime, seq: int, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Change event `seq` and re-chain every later event with recomputed hashes: a thorough forgery."""
    old = rows(rt)
    new_rows = old[:seq]
    prev = old[seq]["prev_hash"]
    for i, r in enumerate(old[seq:], start=seq):
        body = json.loads(r["body"])
        if i == seq:
            body = change(body)
        body["prev"] = prev
        row = dict(row_for(body), seq=i)  # the column keeps the position, whatever the forged body says
        new_rows.append(row)
        prev = row["leaf_hash"]
    replace_rows(rt, new_rows, update_head=True)
