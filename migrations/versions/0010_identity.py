"""web sessions signed in through OpenID Connect keep the provider's claims and ID token

Revision ID: 0010_identity
Revises: 0008_tokens
Create Date: 2026-12-01 01:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010_identity'
down_revision: str | None = '0008_tokens'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # web_sessions only: the events table (and its triggers) is not touched.
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claims', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('id_token', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_column('id_token')
        batch_op.drop_column('claims')
