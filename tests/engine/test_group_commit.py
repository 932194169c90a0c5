"""Group commit: many requests' writes in one transaction, each answered only after the commit,
and one request's failure never takes the others of its batch with it. Both backends."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection

from engine.errors import IdempotencyConflict, NotFound
from engine.runtime import Runtime, open_runtime
from engine.store.group_commit import GroupCommitter
from engine.types import FilingRequest, VerdictRequest
from tests.support import DEFAULT_POLICY


def _committer(runtime: Runtime) -> GroupCommitter:
    committer = runtime.service._committer
    assert committer is not None, "group commit is on by default"
    return committer


def _request(title: str, risk: int = 10) -> FilingRequest:
    return FilingRequest(title=title, category="pipeline", attributes={"risk_score": risk})


class Gate:
    """Holds the committer inside a transaction until released, so the next requests queue up
    and land in one batch: deterministic batching without sleeping for a race."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.entered = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=lambda: rt.service._write(self._hold))

    def _hold(self, conn: Connection) -> None:
        self.entered.set()
        assert self.release.wait(30)

    def __enter__(self) -> Gate:
        self.thread.start()
        assert self.entered.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(30)


def _in_threads(calls: list[Callable[[], Any]]) -> tuple[list[threading.Thread], list[Any]]:
    outcomes: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            outcomes[i] = calls[i]()
        except Exception as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    return threads, outcomes


def _wait_queued(committer: GroupCommitter, count: int) -> None:
    deadline = time.monotonic() + 30
    while committer._queue.qsize() < count:
        assert time.monotonic() < deadline, "requests never queued"
        time.sleep(0.005)


def _decision_titles(runtime: Runtime) -> list[str]:
    with runtime.service.engine.connect() as conn:
        return [r[0] for r in conn.execute(sa.text("SELECT title FROM decisions ORDER BY id"))]


def test_queued_filings_commit_in_one_transaction_and_each_gets_its_own_decision(runtime: Runtime) -> None:
    committer = _committer(runtime)
    mei = runtime.policies.current.people["mei"]
    with Gate(runtime):
        before = committer.batches
        threads, outcomes = _in_threads(
            [lambda i=i: runtime.service.file(mei, _request(f"change {i}")) for i in range(6)]
        )
        _wait_queued(committer, 6)
        assert all(o is None for o in outcomes), "nobody is answered before their batch commits"
    for t in threads:
        t.join(30)
    assert committer.batches == before + 2  # the gate's batch, then all six together
    ids = {o.decision.id for o in outcomes}
    assert len(ids) == 6
    assert sorted(_decision_titles(runtime)) == sorted(f"change {i}" for i in range(6))
    result = runtime.service.verify_log()
    assert result.ok, result.reason
    assert result.size == 1 + 6


def test_a_failing_request_does_not_take_its_batch_with_it(runtime: Runtime) -> None:
    committer = _committer(runtime)
    mei = runtime.policies.current.people["mei"]
    ravi = runtime.policies.current.people["ravi"]
    first = runtime.service.file(mei, _request("keyed"), idempotency_key="k-1")
    with Gate(runtime):
        threads, outcomes = _in_threads(
            [
                lambda: runtime.service.file(mei, _request("before the failure")),
                # Same key, different body: refused, inside the batch.
                lambda: runtime.service.file(mei, _request("keyed, but changed", 99), idempotency_key="k-1"),
                lambda: runtime.service.file(ravi, _request("after the failure")),
                # Same key, same body: the original decision, not a new one.
                lambda: runtime.service.file(mei, _request("keyed"), idempotency_key="k-1"),
                lambda: runtime.service.decide(ravi, "dec_does_not_exist", VerdictRequest(verdict="approve")),
            ]
        )
        _wait_queued(committer, 5)
    for t in threads:
        t.join(30)
    before, conflict, after, replay, missing = outcomes
    assert isinstance(conflict, IdempotencyConflict)
    assert isinstance(missing, NotFound)
    assert before.created and after.created
    assert replay.created is False and replay.decision.id == first.decision.id
    assert sorted(_decision_titles(runtime)) == ["after the failure", "before the failure", "keyed"]
    result = runtime.service.verify_log()
    assert result.ok, result.reason
    assert result.size == 1 + 3  # policy activation + three filings; nothing of the refused ones


def test_a_job_cannot_wait_on_itself(runtime: Runtime) -> None:
    def nested(conn: Connection) -> None:
        runtime.service._write(lambda c: None)

    with pytest.raises(RuntimeError, match="may not submit another job"):
        runtime.service._write(nested)
    # The committer survived and still answers.
    mei = runtime.policies.current.people["mei"]
    assert runtime.service.file(mei, _request("still writing")).created


def test_close_answers_what_is_queued(database_url: str) -> None:
    runtime = open_runtime(database_url, str(DEFAULT_POLICY))
    mei = runtime.policies.current.people["mei"]
    committer = _committer(runtime)
    with Gate(runtime):
        threads, outcomes = _in_threads(
            [lambda i=i: runtime.service.file(mei, _request(f"late {i}")) for i in range(3)]
        )
        _wait_queued(committer, 3)
        closer = threading.Thread(target=committer.close)
        closer.start()
    closer.join(30)
    for t in threads:
        t.join(30)
    assert all(o.created for o in outcomes)
    with pytest.raises(RuntimeError, match="closed"):
        runtime.service.file(mei, _request("after close"))
    runtime.close()


def test_without_group_commit_writes_run_in_the_request_thread(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DECISIONS_GROUP_COMMIT", "0")
    runtime = open_runtime(database_url, str(DEFAULT_POLICY))
    try:
        assert runtime.service._committer is None
        mei = runtime.policies.current.people["mei"]
        threads, outcomes = _in_threads(
            [lambda i=i: runtime.service.file(mei, _request(f"direct {i}")) for i in range(8)]
        )
        for t in threads:
            t.join(30)
        assert all(o.created for o in outcomes)
        result = runtime.service.verify_log()
        assert result.ok and result.size == 9
    finally:
        runtime.close()


def test_a_filing_withdrawn_before_its_batch_begins_is_never_written(runtime: Runtime) -> None:
    """An event loop awaiting `file_later` cancels when its client goes away: nothing half-done is logged."""
    mei = runtime.policies.current.people["mei"]
    with Gate(runtime):
        withdrawn = runtime.service.file_later(mei, _request("client went away"))
        kept = runtime.service.file_later(mei, _request("client waited"))
        assert withdrawn is not None and kept is not None
        assert withdrawn.cancel()
    assert kept.result(30).created
    assert _decision_titles(runtime) == ["client waited"]
    result = runtime.service.verify_log()
    assert result.ok and result.size == 2


def test_policy_filings_and_disabled_group_commit_take_the_threaded_path(runtime: Runtime) -> None:
    mei = runtime.policies.current.people["mei"]
    policy_filing = FilingRequest(title="new policy", category="policy", attributes={"candidate_version": "x" * 64})
    assert runtime.service.file_later(mei, policy_filing) is None
