"""decision counts: (tier, status) -> n, kept by triggers on the read model, back-filled; /metrics reads them

`GET /metrics` counted every decision (GROUP BY tier) and every event on each scrape. The counts
table is exact at every commit because the triggers fire in the transaction that writes a decision
row, whoever writes it (the service, `decisions log rebuild`, a bulk load with triggers on).

Revision ID: 0018_decision_counts
Revises: 0017_log_verifications
Create Date: 2026-12-01 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from engine.store.counts import drop_counts, install_counts

revision: str = "0018_decision_counts"
down_revision: str | None = "0017_log_verifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "decision_counts",
        sa.Column("tier", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tier", "status", name=op.f("pk_decision_counts")),
    )
    # The triggers and the first counts, in this migration's transaction: no decision lands uncounted.
    install_counts(op.get_bind())


def downgrade() -> None:
    drop_counts(op.get_bind())
    op.drop_table("decision_counts")
