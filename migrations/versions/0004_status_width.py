"""status holds proceeded_pending_review (24 characters)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 00:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # PostgreSQL refused the break-glass status (found by the API tests). The decisions table carries
    # no guard triggers, so SQLite's batch rebuild of it loses nothing.
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=sa.String(length=20), type_=sa.String(length=32),
                              existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=sa.String(length=32), type_=sa.String(length=20),
                              existing_nullable=False)
