"""the inbox sorted by tier reads an index: the open decisions by (tier, filed_seq)

`GET /v1/inbox?sort=tier` gives the highest tier first, oldest first within a tier: one walk per tier
(engine.queries.inbox_segments), each a range of this partial index read in filing order, with the
columns the inbox's scope filters on (filer, filing time) beside it and the same WHERE clause as
`ix_decisions_open` (engine.queries.OPEN_SQL renders it). The full `ix_decisions_tier_seq` would make
a tier's walk read every decision of that tier ever filed to find the open ones. Oldest and newest
first walk `ix_decisions_open`, forwards and backwards.

Revision ID: 0019_inbox_tier
Revises: 0018_decision_counts
Create Date: 2026-12-01 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_inbox_tier"
down_revision: str | None = "0018_decision_counts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status IN ('pending', 'proceeded_pending_review')"


def upgrade() -> None:
    op.create_index(
        "ix_decisions_open_tier",
        "decisions",
        ["tier", "filed_seq", "filed_by", "created_at"],
        unique=False,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_decisions_open_tier", table_name="decisions")
