"""decision days: (UTC day, tier) -> n, kept by triggers on the read model, back-filled; escalation metrics read them

The escalation report counted every decision of the periods it shows (224k index entries for 8 quarters
at 1M decisions). With a count per UTC day and tier, a period is its whole days' rows plus the filings of
its two part-days at the edges (a local midnight is rarely a UTC one), counted off the index.

Revision ID: 0022_decision_days
Revises: 0021_checkpoint_frontier
Create Date: 2026-12-01 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from engine.store.counts import drop_day_counts, install_day_counts

revision: str = "0022_decision_days"
down_revision: str | None = "0021_checkpoint_frontier"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "decision_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("tier", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "tier", name=op.f("pk_decision_days")),
    )
    # The triggers and the first counts, in this migration's transaction: no decision lands uncounted.
    install_day_counts(op.get_bind())


def downgrade() -> None:
    drop_day_counts(op.get_bind())
    op.drop_table("decision_days")
