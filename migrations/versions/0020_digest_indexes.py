"""digest indexes: (created_at, tier, amendments) for the per-period counts, the open break-glass decisions

The escalation metrics and the digest's trend count filings per period and tier with a GROUP BY over a
range of `created_at`: with tier (and, for the trend, amendments) in the index the count never reads
the table. `ix_decisions_break_glass` holds only the open decisions under break-glass, which every
digest lists in full.

Revision ID: 0020_digest_indexes
Revises: 0019_inbox_tier
Create Date: 2026-12-01 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_digest_indexes"
down_revision: str | None = "0019_inbox_tier"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BREAK_GLASS_OPEN = "break_glass_reason IS NOT NULL AND status IN ('pending', 'proceeded_pending_review')"


def upgrade() -> None:
    op.create_index("ix_decisions_created_tier", "decisions", ["created_at", "tier", "amendments"], unique=False)
    op.create_index(
        "ix_decisions_break_glass",
        "decisions",
        ["filed_seq"],
        unique=False,
        sqlite_where=sa.text(BREAK_GLASS_OPEN),
        postgresql_where=sa.text(BREAK_GLASS_OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_decisions_break_glass", table_name="decisions")
    op.drop_index("ix_decisions_created_tier", table_name="decisions")
