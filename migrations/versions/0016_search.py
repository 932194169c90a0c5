"""free-text search over decisions: SQLite FTS5, PostgreSQL tsvector + GIN, kept by triggers, backfilled

Revision ID: 0016_search
Revises: 0015_token_scope
Create Date: 2026-12-01 04:00:00
"""

from collections.abc import Sequence

from alembic import op

from engine.store.search import drop_search, install_search

revision: str = "0016_search"
down_revision: str | None = "0015_token_scope"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The index, the triggers that keep it in the read model's transaction, and every existing decision.
    install_search(op.get_bind())


def downgrade() -> None:
    drop_search(op.get_bind())
