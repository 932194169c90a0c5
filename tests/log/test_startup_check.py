"""Start-up against the last signed checkpoint: the signed prefix's root in constant memory (streamed, or
extended from a stored verification that holds together), checked once by `decisions serve` and handed
to its workers. Both backends."""

from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa

from engine.log.checkpoints import STARTUP_CHECKED_ENV
from engine.log.merkle import frontier_append, frontier_root, root
from engine.log.prefix_root import prefix_root_is
from engine.log.recorded import verify_full_and_record
from engine.log.verifications import record
from engine.runtime import Runtime, open_runtime
from engine.types import FilingRequest
from tests.log.tampering import drop_guards, restore_guards, row_for, rows
from tests.support import DEFAULT_POLICY, ManualClock


def _file(rt: Runtime, n: int) -> None:
    mei = rt.policies.current.people["mei"]
    for i in range(n):
        rt.service.file(mei, FilingRequest(title=f"t{i}", category="reporting_format"))


def _leaves(rt: Runtime) -> list[bytes]:
    return [bytes.fromhex(r["leaf_hash"]) for r in rows(rt)]


def test_the_prefix_root_streams_and_resumes_from_a_stored_verification(runtime: Runtime) -> None:
    _file(runtime, 6)  # 7 events
    leaves = _leaves(runtime)
    engine = runtime.service.engine
    for size in range(len(leaves) + 1):
        assert prefix_root_is(engine, size, root(leaves[:size]))
        assert not prefix_root_is(engine, size, b"\x00" * 32)
    verify_full_and_record(engine, runtime.service.origin, [], runtime.service.clock)
    _file(runtime, 3)
    leaves = _leaves(runtime)
    assert prefix_root_is(engine, 10, root(leaves))
    with pytest.raises(LookupError, match="the log holds 10 of the first 12 events"):
        prefix_root_is(engine, 12, root(leaves))


def test_a_forged_stored_frontier_neither_passes_a_bad_log_nor_fails_a_good_one(runtime: Runtime) -> None:
    _file(runtime, 6)
    engine, now = runtime.service.engine, runtime.service.clock()
    leaves = _leaves(runtime)
    junk: list[bytes] = []
    for i in range(5):
        junk = frontier_append(junk, i, hashlib.sha256(b"junk %d" % i).digest())
    record(engine, "full", size=5, ok=True, started_at=now, finished_at=now, root=frontier_root(junk, 5).hex(),
           head_hash=leaves[4].hex(), frontier=junk)  # fmt: skip
    assert prefix_root_is(engine, 7, root(leaves))  # recomputed from the first leaf
    assert not prefix_root_is(engine, 7, frontier_root(junk, 5))


def test_serve_checks_once_and_the_workers_take_its_word(
    database_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = open_runtime(database_url, str(DEFAULT_POLICY), clock=clock)
    _file(rt, 3)
    rt.checkpoints.create()
    rt.close()
    first = open_runtime(database_url, str(DEFAULT_POLICY), clock=clock)
    token = first.checkpoints.startup_checked
    assert token is not None and not first.service.append_blocked
    # The signed prefix altered (leaf hash and all) after the check: a worker given the token does not read
    # it again; one given another token (another database, another checkpoint) does, and refuses appends.
    drop_guards(first)
    body = {**json.loads(rows(first)[1]["body"]), "actor": "mallory"}
    changed = row_for(body)
    with first.service.engine.begin() as conn:
        conn.execute(sa.text("UPDATE events SET body = :b, leaf_hash = :h WHERE seq = 1"),
                     {"b": changed["body"], "h": changed["leaf_hash"]})  # fmt: skip
    restore_guards(first)
    first.close()
    monkeypatch.setenv(STARTUP_CHECKED_ENV, token)
    trusting = open_runtime(database_url, str(DEFAULT_POLICY), clock=clock)
    assert not trusting.service.append_blocked
    trusting.close()
    monkeypatch.setenv(STARTUP_CHECKED_ENV, "0" * 64)
    checking = open_runtime(database_url, str(DEFAULT_POLICY), clock=clock)
    assert "do not hash to the last signed checkpoint's root" in (checking.service.append_blocked or "")
    checking.close()


def test_decisions_serve_hands_its_check_to_the_workers(
    database_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    import uvicorn
    from click.testing import CliRunner

    from api.cli import main

    rt = open_runtime(database_url, str(DEFAULT_POLICY), clock=clock)
    _file(rt, 2)
    rt.checkpoints.create()
    rt.close()
    seen: dict[str, str | None] = {}
    # uvicorn is the edge: instead of serving, note what the workers would inherit.
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: seen.update(token=os.environ.get(STARTUP_CHECKED_ENV)))
    monkeypatch.delenv(STARTUP_CHECKED_ENV, raising=False)
    result = CliRunner().invoke(main, ["--database-url", database_url, "--policy", str(DEFAULT_POLICY), "serve"])
    assert result.exit_code == 0, result.output
    checked = open_runtime(database_url, str(DEFAULT_POLICY), clock=clock)
    try:
        assert seen["token"] is not None and seen["token"] == checked.checkpoints.startup_checked
    finally:
        checked.close()
        monkeypatch.delenv(STARTUP_CHECKED_ENV, raising=False)
