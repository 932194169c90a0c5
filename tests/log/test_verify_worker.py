"""The verification worker: one job at a time per database (the lock), its result stored. Both backends,
the worker run as the server runs it: `python -m engine.log.verify_worker` in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from engine.log.job_lock import job_lock, job_running
from engine.log.verifications import latest
from engine.runtime import Runtime
from engine.store.db import create_db_engine
from engine.types import FilingRequest


def _worker(database_url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "engine.log.verify_worker", *args],
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_lock_lets_one_job_run_at_a_time(runtime: Runtime, database_url: str) -> None:
    mei = runtime.policies.current.people["mei"]
    runtime.service.file(mei, FilingRequest(title="t", category="pipeline", attributes={"risk_score": 1}))
    other = create_db_engine(database_url)  # another process's view: its own connections
    try:
        with job_lock(runtime.service.engine) as held:
            assert held
            assert job_running(other)
            with job_lock(other) as second:
                assert not second
            busy = _worker(database_url, "full")
            _, err = busy.communicate(timeout=60)
            assert busy.returncode == 3 and "another verification job is running" in err
            waiting = _worker(database_url, "audit", "--wait")
            time.sleep(1.5)
            assert waiting.poll() is None  # queued behind the lock
            assert latest(runtime.service.engine, ["full", "audit"]) is None
        out, err = waiting.communicate(timeout=60)
        assert waiting.returncode == 0, err
        assert out.strip() == '{"ok":true,"size":2,"first_bad_seq":null,"reason":null}'
        assert not job_running(other)
        stored = latest(runtime.service.engine, ["audit"])
        assert stored is not None and stored.ok and stored.size == 2
        full = _worker(database_url, "full")
        _, err = full.communicate(timeout=60)
        assert full.returncode == 0, err
        recorded = latest(runtime.service.engine, ["full"])
        assert recorded is not None and recorded.ok and recorded.size == 2
    finally:
        other.dispose()
