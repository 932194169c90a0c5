"""The log as stored: serialised appends, append-only triggers, and tamper detection, on both backends."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from engine.runtime import Runtime, open_runtime
from engine.store.db import create_db_engine
from engine.store.guards import expected_guards, install_guards, installed_guards
from engine.store.migrate import check_drift
from engine.types import FilingRequest
from tests.support import DEFAULT_POLICY


def _file_many(rt: Runtime, who: str, count: int, errors: list[BaseException]) -> None:
    person = rt.policies.current.people[who]
    try:
        for i in range(count):
            rt.service.file(
                person,
                FilingRequest(title=f"{who} change {i}", category="pipeline", attributes={"risk_score": (i * 7) % 100}),
            )
    except BaseException as exc:  # surfaced by the main thread
        errors.append(exc)


def test_concurrent_filers_build_one_gapless_chain(database_url: str) -> None:
    rt = open_runtime(database_url, str(DEFAULT_POLICY))
    try:
        filers = ["mei", "jon", "sofia", "ravi", "lena", "omar", "tomas", "priya"]
        errors: list[BaseException] = []
        threads = [threading.Thread(target=_file_many, args=(rt, who, 200, errors)) for who in filers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        result = rt.service.verify_log()
        # 1 policy_activated event + 1600 filings, no fork, no gap.
        assert result.ok, result.reason
        assert result.size == 1601
        with rt.service.engine.connect() as conn:
            seqs = [r[0] for r in conn.execute(sa.text("SELECT seq FROM events ORDER BY seq"))]
            decisions = conn.execute(sa.text("SELECT count(*) FROM decisions")).scalar_one()
        assert seqs == list(range(1601))
        assert decisions == 1600
    finally:
        rt.close()


def test_migrations_install_the_guards_and_match_the_models(database_url: str) -> None:
    engine = create_db_engine(database_url)
    with engine.connect() as conn:
        assert expected_guards(conn.dialect.name) <= installed_guards(conn)
    engine.dispose()
    check_drift(database_url)  # raises on any model/migration drift


@pytest.fixture
def filled(runtime: Runtime) -> Runtime:
    people = runtime.policies.current.people
    for i in range(5):
        runtime.service.file(
            people["mei"], FilingRequest(title=f"t{i}", category="quality_threshold", attributes={"deviation_pct": 1.0})
        )
    return runtime


REFUSED_STATEMENTS = {
    "update body": "UPDATE events SET body = 'x' WHERE seq = 1",
    "update column": "UPDATE events SET actor = 'mallory' WHERE seq = 1",
    "delete": "DELETE FROM events WHERE seq = 3",
    "delete all": "DELETE FROM events",
}


@pytest.mark.parametrize("statement", list(REFUSED_STATEMENTS.values()), ids=list(REFUSED_STATEMENTS))
def test_sql_cannot_change_or_remove_events(filled: Runtime, statement: str) -> None:
    engine = filled.service.engine
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.exec_driver_sql(statement)
    assert filled.service.verify_log().ok


def test_sql_cannot_replace_or_truncate_events(filled: Runtime) -> None:
    engine = filled.service.engine
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM events WHERE seq = 2")).mappings().one()
    if engine.dialect.name == "sqlite":
        # REPLACE deletes the conflicting row without a DELETE statement.
        for seq in (2, 6):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(
                    sa.text(
                        "INSERT OR REPLACE INTO events (seq, body, leaf_hash, prev_hash, decision_id, type, actor, at)"
                        " VALUES (:seq, 'forged', :leaf, :prev, NULL, 'x', 'mallory', :at)"
                    ),
                    {"seq": seq, "leaf": row["leaf_hash"], "prev": row["prev_hash"], "at": row["at"]},
                )
    else:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE events")
    result = filled.service.verify_log()
    assert result.ok and result.size == 6


def _drop_guards(rt: Runtime) -> None:
    with rt.service.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            for name in installed_guards(conn):
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
        else:
            conn.exec_driver_sql("DROP TRIGGER events_refuse_change ON events")
            conn.exec_driver_sql("DROP TRIGGER events_next_seq ON events")


TAMPERING = {
    "changed body": ("UPDATE events SET body = replace(body, '\"t2\"', '\"t9\"') WHERE seq = 3", 3, "leaf hash"),
    "changed query column": ("UPDATE events SET actor = 'mallory' WHERE seq = 2", 2, "actor"),
    "deleted row": ("DELETE FROM events WHERE seq = 4", 4, "seq"),
    "moved time column": ("UPDATE events SET at = '2020-01-01 00:00:00.000000' WHERE seq = 3", 3, "at column"),
}


@pytest.mark.parametrize("tamper", list(TAMPERING.values()), ids=list(TAMPERING))
def test_verify_finds_tampering_at_the_right_seq(filled: Runtime, tamper: tuple[str, int, str]) -> None:
    statement, bad_seq, reason_word = tamper
    _drop_guards(filled)
    with filled.service.engine.begin() as conn:
        conn.exec_driver_sql(statement)
    result = filled.service.verify_log()
    assert not result.ok
    assert result.first_bad_seq == bad_seq
    assert result.reason and reason_word in result.reason


def test_verify_finds_two_swapped_rows(filled: Runtime) -> None:
    _drop_guards(filled)
    with filled.service.engine.begin() as conn:
        rows = {r["seq"]: dict(r) for r in conn.execute(sa.text("SELECT * FROM events")).mappings()}
        conn.exec_driver_sql("DELETE FROM events WHERE seq IN (2, 3)")
        # Put each body (with its hashes and columns) at the other's position.
        for seq, other in ((2, 3), (3, 2)):
            values = dict(rows[other], seq=seq)
            conn.execute(
                sa.text(
                    "INSERT INTO events (seq, body, leaf_hash, prev_hash, decision_id, type, actor, at) "
                    "VALUES (:seq, :body, :leaf_hash, :prev_hash, :decision_id, :type, :actor, :at)"
                ),
                values,
            )
    result = filled.service.verify_log()
    assert not result.ok
    assert result.first_bad_seq == 2
    assert result.reason


def test_a_time_column_spelled_another_way_is_judged_by_its_instant(filled: Runtime) -> None:
    """SQLite keeps times as text: a tool that rewrote them in another ISO spelling changed no
    instant and breaks nothing; a spelling of a different instant is caught. (PostgreSQL keeps
    the instant itself, so only the second case exists there.)"""
    _drop_guards(filled)
    sqlite = filled.service.engine.dialect.name == "sqlite"
    with filled.service.engine.begin() as conn:
        if sqlite:
            conn.exec_driver_sql("UPDATE events SET at = replace(at, ' ', 'T') || '+00:00' WHERE seq = 2")
            assert conn.exec_driver_sql("SELECT at FROM events WHERE seq = 2").scalar_one().endswith("+00:00")
        install_guards(conn)  # verify also reports missing guards: put them back to judge the time alone
    assert filled.service.verify_log().ok
    _drop_guards(filled)
    with filled.service.engine.begin() as conn:
        shifted = "replace(at, ' ', 'T') || '+01:00'" if sqlite else "at + interval '1 hour'"
        conn.exec_driver_sql(f"UPDATE events SET at = {shifted} WHERE seq = 2")
    result = filled.service.verify_log()
    assert not result.ok and result.first_bad_seq == 2 and "at column" in (result.reason or "")


def test_event_times_never_go_backwards(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    mei = runtime.policies.current.people["mei"]
    runtime.service.file(mei, FilingRequest(title="a", category="reporting_format"))
    clock.now = datetime(2020, 1, 1, tzinfo=UTC)  # a worker with a slow clock
    later = runtime.service.file(mei, FilingRequest(title="b", category="reporting_format"))
    assert later.decision.created_at >= datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
    assert runtime.service.verify_log().ok
