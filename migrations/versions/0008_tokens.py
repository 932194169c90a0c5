"""tokens: an optional expiry and the time of last use

Revision ID: 0008_tokens
Revises: 0012_baseline
Create Date: 2026-12-01 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import engine.store.columns

revision: str = "0008_tokens"
down_revision: str | None = "0012_baseline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # api_tokens only: the events table and its triggers are untouched.
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", engine.store.columns.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_used_at", engine.store.columns.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("expires_at")
