"""`decisions log verify --record [--full]` and `decisions log audit --record`: the same outputs and exit codes,
and the result stored for the audit page and the API."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from api.cli import main
from engine.log.verifications import latest
from engine.store.db import create_db_engine
from tests.support import DEFAULT_POLICY


@pytest.fixture
def run(database_url: str):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(main, ["--database-url", database_url, "--policy", str(DEFAULT_POLICY), *args])

    return invoke


def _stored(database_url: str, *kinds: str):  # type: ignore[no-untyped-def]
    engine = create_db_engine(database_url)
    try:
        return latest(engine, kinds)  # type: ignore[arg-type]
    finally:
        engine.dispose()


def _json(output: str) -> dict:  # type: ignore[type-arg]
    return json.loads(output[output.index("{") : output.rindex("}") + 1])


def test_verify_record_falls_back_to_full_then_checks_only_the_tail(run, database_url: str) -> None:  # type: ignore[no-untyped-def]
    run("file", "--as", "mei", "--title", "one", "pipeline", "risk_score=1")
    first = run("log", "verify", "--record")
    assert first.exit_code == 0, first.output
    assert "no verification is stored yet: run a full verification: verifying the whole log" in first.output
    assert _json(first.stdout)["size"] == 2 and "OK: 2 events" in first.output
    full = _stored(database_url, "full")
    assert full is not None and full.ok and full.size == 2
    run("file", "--as", "mei", "--title", "two", "pipeline", "risk_score=1")
    tail = run("log", "verify", "--record")
    assert tail.exit_code == 0, tail.output
    assert f"checked events 2 to 3 after stored verification #{full.id} (full" in tail.output
    incremental = _stored(database_url, "incremental")
    assert incremental is not None and (incremental.base_size, incremental.size) == (2, 3)
    forced = run("log", "verify", "--record", "--full")
    assert forced.exit_code == 0 and _stored(database_url, "full").size == 3  # type: ignore[union-attr]
    assert run("log", "verify", "--record", "--export", "x.jsonl").exit_code != 0


def test_a_broken_tail_exits_1_and_is_stored(run, database_url: str) -> None:  # type: ignore[no-untyped-def]
    run("file", "--as", "mei", "--title", "one", "pipeline", "risk_score=1")
    assert run("log", "verify", "--record").exit_code == 0
    run("file", "--as", "mei", "--title", "t1", "pipeline", "risk_score=1")
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER events_refuse_update")
        else:
            conn.exec_driver_sql("DROP TRIGGER events_refuse_change ON events")
        conn.exec_driver_sql("UPDATE events SET body = replace(body, '\"t1\"', '\"tX\"') WHERE seq = 2")
    engine.dispose()
    result = run("log", "verify", "--record")
    assert result.exit_code == 1 and "BROKEN at seq 2" in result.output
    stored = _stored(database_url, "incremental")
    assert stored is not None and not stored.ok and stored.first_bad_seq == 2


def test_audit_record_keeps_the_output_and_stores_the_verdict(run, database_url: str) -> None:  # type: ignore[no-untyped-def]
    run("file", "--as", "mei", "--title", "one", "pipeline", "risk_score=1")
    result = run("log", "audit", "--record")
    assert result.exit_code == 0, result.output
    assert "OK: 2 events replayed, every step allowed by the rules" in result.stdout
    stored = _stored(database_url, "audit")
    assert stored is not None and stored.ok and stored.size == 2 and stored.root is None
