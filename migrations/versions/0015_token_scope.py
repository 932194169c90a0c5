"""tokens: a scope, read (GET routes and classify) or full; every existing token is full, as before

Revision ID: 0015_token_scope
Revises: 0013_read_indexes
Create Date: 2026-12-01 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_token_scope"
down_revision: str | None = "0013_read_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # api_tokens only: the events table and its triggers are untouched. Tokens minted before scopes
    # could do whatever their person may: they stay `full`.
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope", sa.String(length=10), nullable=False, server_default="full"))
        batch_op.create_check_constraint("scope_known", "scope IN ('read', 'full')")


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_constraint("scope_known", type_="check")
        batch_op.drop_column("scope")
