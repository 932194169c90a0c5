"""Several worker processes against one PostgreSQL database, filing and approving at once:
one history, no fork, no lost approval, no decision approved twice, quorums counted exactly."""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from pathlib import Path

import msgspec
import pytest
import sqlalchemy as sa

from engine.errors import Conflict
from engine.log import rebuild
from engine.runtime import open_runtime
from engine.types import FilingRequest, VerdictRequest
from tests.support import DEFAULT_POLICY

WORKERS = 4
FILINGS = 15


def _worker(database_url: str, state_dir: str, index: int, queue: multiprocessing.Queue[object]) -> None:
    os.environ["DECISIONS_STATE_DIR"] = state_dir
    rt = open_runtime(database_url, str(DEFAULT_POLICY))
    people = rt.policies.current.people
    filer = ["mei", "jon", "ravi", "lena"][index % 4]
    approvers = ["tomas", "priya"]
    filed, approved, conflicts = [], 0, 0
    try:
        for i in range(FILINGS):
            request = FilingRequest(title=f"w{index}-{i}", category="pipeline", attributes={"risk_score": 80})
            filed.append(rt.service.file(people[filer], request).decision.id)
        # Everyone races to approve everything that is still pending, including other workers' filings.
        with rt.service.engine.connect() as conn:
            pending = [r[0] for r in conn.execute(sa.text("SELECT id FROM decisions WHERE status = 'pending'"))]
        for decision_id in pending:
            try:
                rt.service.decide(people[approvers[index % 2]], decision_id, VerdictRequest(verdict="approve"))
                approved += 1
            except Conflict:
                conflicts += 1
        queue.put({"filed": filed, "approved": approved, "conflicts": conflicts})
    except BaseException as exc:  # report, so the parent fails with the reason instead of hanging
        queue.put({"error": repr(exc)})
    finally:
        rt.close()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_workers_share_one_history(database_url: str, tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    os.environ["DECISIONS_STATE_DIR"] = state
    open_runtime(database_url, str(DEFAULT_POLICY)).close()  # bootstrap once
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[object] = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(database_url, state, i, queue)) for i in range(WORKERS)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert all("error" not in r for r in results), results
    rt = open_runtime(database_url, str(DEFAULT_POLICY))
    try:
        result = rt.service.verify_log()
        assert result.ok, result
        events = [msgspec.json.decode(r["body"]) for r in rt.service.iter_event_rows()]
        filed = [e for e in events if e["type"] == "decision_filed"]
        assert len(filed) == WORKERS * FILINGS
        assert [e["seq"] for e in events] == list(range(len(events)))  # one gapless history
        approvals = Counter(e["decision_id"] for e in events if e["type"] == "approval_recorded")
        # A tier-2 quorum is one tech PM: every decision approved exactly once, never twice.
        assert set(approvals.values()) == {1} and len(approvals) == WORKERS * FILINGS
        assert sum(r["approved"] for r in results) == WORKERS * FILINGS  # no approval lost either
        with rt.service.engine.connect() as conn:
            statuses = Counter(r[0] for r in conn.execute(sa.text("SELECT status FROM decisions")))
        assert statuses == {"approved": WORKERS * FILINGS}
        assert rebuild.compare(rt.service.engine).ok
    finally:
        rt.close()
