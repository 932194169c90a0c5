"""read paths that stay flat as history grows: every list filter walks filed_seq in order; open decisions apart

Each single-column index on a list filter (category, filed_by, squad, status, tier) becomes a
composite (column, filed_seq), so `GET /v1/decisions?category=...` reads the newest matching rows
straight off the index instead of sorting every match (SQLite's temp B-tree). `ix_decisions_open`
holds only the open decisions, in filing order, with the columns the inbox filters on: the inbox
walks it and stops when its page is full. Its WHERE clause is spelt as engine.queries.OPEN_SQL
renders it, so the planners can prove the index applies.

Revision ID: 0013_read_indexes
Revises: 0011_slack
Create Date: 2026-12-01 04:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013_read_indexes'
down_revision: str | None = '0011_slack'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILTERS = ('category', 'filed_by', 'squad', 'status', 'tier')
OPEN = "status IN ('pending', 'proceeded_pending_review')"


def upgrade() -> None:
    for column in FILTERS:
        op.create_index(f'ix_decisions_{column}_seq', 'decisions', [column, 'filed_seq'], unique=False)
        op.drop_index(f'ix_decisions_{column}', table_name='decisions')
    op.create_index(
        'ix_decisions_open',
        'decisions',
        ['filed_seq', 'tier', 'filed_by', 'created_at'],
        unique=False,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index('ix_decisions_open', table_name='decisions')
    for column in FILTERS:
        op.create_index(f'ix_decisions_{column}', 'decisions', [column], unique=False)
        op.drop_index(f'ix_decisions_{column}_seq', table_name='decisions')
