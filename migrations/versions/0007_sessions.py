"""server-side web sessions: the cookie holds a random id, the row holds whose session it is

Revision ID: 0007_sessions
Revises: 0005
Create Date: 2026-12-01 00:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import engine.store.columns

revision: str = '0007_sessions'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('web_sessions',
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('person', sa.String(length=100), nullable=False),
    sa.Column('via', sa.String(length=20), nullable=False),
    sa.Column('token_id', sa.String(length=32), nullable=True),
    sa.Column('created_at', engine.store.columns.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', engine.store.columns.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', engine.store.columns.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id_hash', name=op.f('pk_web_sessions'))
    )
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_sessions_person'), ['person'], unique=False)
        batch_op.create_index(batch_op.f('ix_web_sessions_token_id'), ['token_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DO $$ BEGIN GRANT SELECT, INSERT, UPDATE, DELETE ON web_sessions TO decisions_app; "
            "EXCEPTION WHEN undefined_object OR insufficient_privilege THEN NULL; END $$"
        )


def downgrade() -> None:
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_sessions_token_id'))
        batch_op.drop_index(batch_op.f('ix_web_sessions_person'))
    op.drop_table('web_sessions')
