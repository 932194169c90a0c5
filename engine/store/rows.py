"""Reading one decision's read-model row (inside a read or a write transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from engine.errors import NotFound
from engine.store.tables import Decision

_decisions = Decision.__table__  # type: ignore[attr-defined]


def decision_row(conn: Connection, decision_id: str) -> dict[str, Any]:
    row = conn.execute(select(_decisions).where(_decisions.c.id == decision_id)).mappings().first()
    if row is None:
        raise NotFound(f"no decision {decision_id}")
    return dict(row)
