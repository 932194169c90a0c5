"""changed since a window's end: last_seq in ix_decisions_open, (decided_at, created_at, last_seq) for ix_decisions_decided_at

A closed window's digest reads from the read model every decision unchanged since the window's end
(its last event before the end) and replays the others. Which open decisions changed since, and which
decided since were filed before the end and changed since, are then read off these indexes alone
instead of the table row of every open decision and of every decision decided since (30 ms at 1M
decisions). Both keep their names and leading columns, so every query that used them still does;
the open one is partial (the open decisions only) and rebuilt in an instant.

Revision ID: 0023_changed_since
Revises: 0022_decision_days
Create Date: 2026-12-01 08:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_changed_since"
down_revision: str | None = "0022_decision_days"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status IN ('pending', 'proceeded_pending_review')"


def _open(columns: list[str]) -> None:
    op.drop_index("ix_decisions_open", table_name="decisions")
    op.create_index(
        "ix_decisions_open",
        "decisions",
        columns,
        unique=False,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def upgrade() -> None:
    _open(["filed_seq", "tier", "filed_by", "created_at", "last_seq"])
    op.drop_index("ix_decisions_decided_at", table_name="decisions")
    op.create_index("ix_decisions_decided_at", "decisions", ["decided_at", "created_at", "last_seq"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_decisions_decided_at", table_name="decisions")
    op.create_index("ix_decisions_decided_at", "decisions", ["decided_at"], unique=False)
    _open(["filed_seq", "tier", "filed_by", "created_at"])
