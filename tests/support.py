"""Test helpers shared by every suite: databases on both backends, clocks, paths."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
DEFAULT_POLICY = REPO / "policies.yaml"
PG_SERVER_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


class ManualClock:
    """A clock the test moves by hand; every call returns an aware UTC datetime."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 2, 17, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def postgres_or_skip() -> None:
    """PostgreSQL is mandatory under CI=true: there, an unreachable server fails the test."""
    try:
        engine = sa.create_engine(PG_SERVER_URL)
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:  # pragma: no cover - depends on the machine
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true but unreachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_SERVER_URL}")


@contextmanager
def postgres_schema_url() -> Iterator[str]:
    """A fresh, empty schema on the test server; dropped afterwards."""
    postgres_or_skip()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_SERVER_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@contextmanager
def database_url_for(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'decisions.db'}"
    else:
        with postgres_schema_url() as url:
            yield url


def markdown_table_rows(tokens: list) -> Iterator[list[str]]:  # type: ignore[type-arg]
    """Each table row of parsed Markdown (markdown-it tokens) as a reader sees its cells: escapes resolved."""
    row: list[str] = []
    for i, t in enumerate(tokens):
        if t.type == "tr_open":
            row = []
        elif t.type in ("td_open", "th_open"):
            row.append("".join(c.content for c in (tokens[i + 1].children or [])))
        elif t.type == "tr_close":
            yield row
