"""the imported pre-adoption baseline, stored apart from the log (vouched for by a baseline_imported event)

Revision ID: 0012_baseline
Revises: 0007_sessions
Create Date: 2026-12-01 01:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012_baseline'
down_revision: str | None = '0007_sessions'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('baseline_items',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('import_seq', sa.BigInteger(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=200), nullable=False),
    sa.Column('decided_by', sa.String(length=100), nullable=False),
    sa.Column('tier', sa.Integer(), nullable=False),
    sa.Column('waited_days', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_baseline_items'))
    )
    with op.batch_alter_table('baseline_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_baseline_items_import_seq'), ['import_seq'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('baseline_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_baseline_items_import_seq'))
    op.drop_table('baseline_items')
