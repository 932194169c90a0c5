"""checkpoints.frontier: the signed tree's Merkle frontier, so the next checkpoint reads only the new leaves

Revision ID: 0021_checkpoint_frontier
Revises: 0020_digest_indexes
Create Date: 2026-12-01 07:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision: str = "0021_checkpoint_frontier"
down_revision: str | None = "0020_digest_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN, not a batch copy: on SQLite a batch rebuild would drop the append-only triggers.
    op.add_column(
        "checkpoints",
        sa.Column("frontier", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("checkpoints", "frontier")
