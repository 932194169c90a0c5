"""`decisions db check` and `log verify` report disabled, missing or altered guards and a head row that lies."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.runtime import Runtime, open_runtime
from engine.store.integrity import check_database, verify_database
from engine.store.tables import LogHead
from engine.types import FilingRequest
from tests.support import DEFAULT_POLICY, ManualClock

_head = LogHead.__table__  # type: ignore[attr-defined]


def _file(rt: Runtime, n: int = 1) -> None:
    mei = rt.policies.current.people["mei"]
    for i in range(n):
        rt.service.file(mei, FilingRequest(title=f"d{i}", category="reporting_format", attributes={}))


def _both(rt: Runtime) -> tuple[list[str], str]:
    report = check_database(rt.service.engine)
    verified = verify_database(rt.service.engine, rt.service.origin)
    assert not report.ok and not verified.ok
    return report.problems, verified.reason or ""


def test_an_untouched_database_passes_both_checks(runtime: Runtime) -> None:
    _file(runtime, 3)
    report = check_database(runtime.service.engine)
    assert report.ok and report.problems == [] and report.events == 4
    assert verify_database(runtime.service.engine, runtime.service.origin).ok


@pytest.mark.postgres
def test_triggers_left_enabled_for_origin_only_are_reported_on_postgresql(postgres_runtime: Runtime) -> None:
    rt = postgres_runtime
    _file(rt)
    with rt.service.engine.begin() as conn:
        # What a maintenance script does: disable, bulk-fix, enable. The triggers come back 'O', not 'A'.
        conn.exec_driver_sql("ALTER TABLE events DISABLE TRIGGER ALL")
        conn.exec_driver_sql("ALTER TABLE events ENABLE TRIGGER ALL")
    problems, reason = _both(rt)
    assert len(problems) == 3
    for name in ("events_refuse_change", "events_refuse_truncate", "events_next_seq"):
        assert any(name in p and "not ENABLE ALWAYS" in p for p in problems)
        assert name in reason
    # And why it matters: a replica-role session now rewrites the log unhindered.
    with rt.service.engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.exec_driver_sql("UPDATE events SET actor = 'dana' WHERE seq = 1")


@pytest.mark.postgres
def test_an_altered_guard_function_is_reported_on_postgresql(postgres_runtime: Runtime) -> None:
    with postgres_runtime.service.engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE OR REPLACE FUNCTION decisions_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RETURN OLD; END $$"
        )
    problems, _ = _both(postgres_runtime)
    assert any("decisions_refuse_change" in p and "altered" in p for p in problems)


def test_a_dropped_or_altered_trigger_is_reported_on_sqlite(sqlite_runtime: Runtime) -> None:
    rt = sqlite_runtime
    with rt.service.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER events_refuse_delete")
        conn.exec_driver_sql("DROP TRIGGER events_refuse_update")
        # Same name, a body that lets everything through.
        conn.exec_driver_sql("CREATE TRIGGER events_refuse_update BEFORE UPDATE ON events BEGIN SELECT 1; END")
    problems, reason = _both(rt)
    assert "the append-only trigger events_refuse_delete on events is missing" in problems
    assert any("events_refuse_update" in p and "altered" in p for p in problems)
    assert "events_refuse_delete" in reason


def test_a_head_row_whose_size_was_lowered_fails_and_says_so_at_start_up(database_url: str) -> None:
    clock = ManualClock()
    rt = open_runtime(database_url, str(DEFAULT_POLICY), clock=clock)
    try:
        _file(rt, 10)
        rt.checkpoints.create()
        with rt.service.engine.begin() as conn:
            conn.execute(sa.update(_head).values(size=_head.c.size - 5))
        problems, reason = _both(rt)
        assert problems == [
            "the chain head row says the log has 6 events but the events table holds 11: the head row was "
            "altered (or rolled back without the events); appends would collide"
        ]
        assert "6 events but the events table holds 11" in reason
    finally:
        rt.close()
    # The server refuses appends, and says why: not "restored from an old backup".
    again = open_runtime(database_url, str(DEFAULT_POLICY), clock=clock)
    try:
        blocked = again.service.append_blocked or ""
        assert "head row was altered" in blocked and "old backup" not in blocked
    finally:
        again.close()


def test_a_head_row_with_another_hash_or_frontier_fails(runtime: Runtime) -> None:
    _file(runtime, 4)
    with runtime.service.engine.begin() as conn:
        conn.execute(sa.update(_head).values(head_hash="ab" * 32))
    problems, _ = _both(runtime)
    assert len(problems) == 1 and "hash abababababababab… is not the leaf hash of event 4" in problems[0]
    with runtime.service.engine.begin() as conn:
        head = conn.execute(sa.select(_head.c.frontier)).scalar_one()
        conn.execute(sa.update(_head).values(head_hash=runtime.service.verify_log().head_hash))
        conn.execute(sa.update(_head).values(frontier=[*head[:-1], "cd" * 32]))
    problems, _ = _both(runtime)
    assert len(problems) == 1 and "Merkle frontier" in problems[0]
