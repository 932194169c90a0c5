"""log_verifications: stored results of full and incremental verifications and replay audits

Revision ID: 0017_log_verifications
Revises: 0016_search
Create Date: 2026-12-01 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import engine.store.columns

revision: str = "0017_log_verifications"
down_revision: str | None = "0016_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "log_verifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("base_size", sa.BigInteger(), nullable=True),
        sa.Column("root_hash", sa.String(length=64), nullable=True),
        sa.Column("head_hash", sa.String(length=64), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("first_bad_seq", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("frontier", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=True),
        sa.Column("started_at", engine.store.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", engine.store.columns.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_verifications")),
    )
    op.create_index("ix_log_verifications_kind_size", "log_verifications", ["kind", "size"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # Results are added, never changed: the app (and the worker, as the app) only inserts and reads.
        op.execute(
            "DO $$ BEGIN GRANT SELECT, INSERT ON log_verifications TO decisions_app; "
            "GRANT USAGE ON SEQUENCE log_verifications_id_seq TO decisions_app; "
            "EXCEPTION WHEN undefined_object OR insufficient_privilege THEN NULL; END $$"
        )


def downgrade() -> None:
    op.drop_index("ix_log_verifications_kind_size", table_name="log_verifications")
    op.drop_table("log_verifications")
