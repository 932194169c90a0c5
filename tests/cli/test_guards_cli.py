"""`decisions db check` and `decisions log verify` fail on disabled or missing guards and a lowered head."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from api.cli import main
from engine.runtime import open_runtime
from engine.store.db import create_db_engine
from engine.types import FilingRequest
from tests.support import DEFAULT_POLICY


@pytest.fixture
def run(database_url: str):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, ["--database-url", database_url, "--policy", str(DEFAULT_POLICY), *args])

    rt = open_runtime(database_url, str(DEFAULT_POLICY))
    try:
        mei = rt.policies.current.people["mei"]
        for i in range(8):
            rt.service.file(mei, FilingRequest(title=f"d{i}", category="reporting_format", attributes={}))
    finally:
        rt.close()
    return invoke


def _sql(database_url: str, *statements: str) -> None:
    engine = create_db_engine(database_url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def test_an_untouched_database_passes(run) -> None:  # type: ignore[no-untyped-def]
    checked = run("db", "check")
    assert checked.exit_code == 0, checked.output
    assert "OK: guards in place, chain head agrees with the 9 events, schema at head" in checked.output
    assert run("log", "verify").exit_code == 0


def test_triggers_disabled_then_enabled_fail_both_commands(run, database_url: str, backend: str) -> None:  # type: ignore[no-untyped-def]
    if backend == "postgresql":
        _sql(database_url, "ALTER TABLE events DISABLE TRIGGER ALL", "ALTER TABLE events ENABLE TRIGGER ALL")
        expected = "the append-only trigger events_refuse_change on events is ENABLE (origin only), not ENABLE ALWAYS"
    else:
        _sql(database_url, "DROP TRIGGER events_append_only_insert")
        expected = "the append-only trigger events_append_only_insert on events is missing"
    checked = run("db", "check")
    assert checked.exit_code == 1
    assert f"FAIL: {expected}" in checked.output
    verified = run("log", "verify")
    assert verified.exit_code == 1 and expected in verified.output and "BROKEN: " in verified.output


def test_a_lowered_head_size_fails_both_commands(run, database_url: str) -> None:  # type: ignore[no-untyped-def]
    _sql(database_url, "UPDATE log_head SET size = size - 5")
    expected = "the chain head row says the log has 4 events but the events table holds 9"
    checked = run("db", "check")
    assert checked.exit_code == 1 and expected in checked.output
    verified = run("log", "verify")
    assert verified.exit_code == 1 and expected in verified.output


def test_db_check_reads_only(run, database_url: str) -> None:  # type: ignore[no-untyped-def]
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as conn:
            before = conn.execute(sa.text("SELECT count(*) FROM events")).scalar()
        assert run("db", "check").exit_code == 0
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM events")).scalar() == before
    finally:
        engine.dispose()
