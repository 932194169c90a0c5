"""Starting the verification worker from the server (the audit page's buttons, the API).

The job runs in its own process (`python -m engine.log.verify_worker`), so its CPU never competes
with the server's event loop for the GIL. The URL travels in the child's environment, not its
arguments, where `ps` would show a password.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from typing import Literal

from sqlalchemy import Engine

from engine.log.job_lock import job_running

JobKind = Literal["full", "audit"]


def _command(kind: JobKind, *extra: str) -> list[str]:
    return [sys.executable, "-m", "engine.log.verify_worker", kind, *extra]


def _environment(database_url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url}


def _spawn(database_url: str, kind: JobKind, *extra: str) -> subprocess.Popen[bytes]:
    child = subprocess.Popen(
        _command(kind, *extra),
        env=_environment(database_url),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Its own session: a Ctrl-C meant for the server does not cut a verification short.
        start_new_session=True,
    )
    # Reaped by a thread of its own: an exited child not waited for stays a zombie for the server's lifetime.
    threading.Thread(target=child.wait, name=f"verify-{kind}-reaper", daemon=True).start()
    return child


def start_job(engine: Engine, database_url: str, kind: JobKind) -> bool:
    """Start a job in the background; False when one is running already (it will store its result)."""
    if job_running(engine):
        return False
    _spawn(database_url, kind)
    return True


def run_job(engine: Engine, database_url: str, kind: JobKind, timeout: float | None = None) -> bool:
    """Run a job and wait for it; False when `timeout` passed first (the job goes on in the background
    and stores its result). When a job is running already, wait for that one: many requests arriving
    together then start one process, not one each."""
    deadline = None if timeout is None else time.monotonic() + timeout
    if job_running(engine):
        while job_running(engine):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return True
    child = _spawn(database_url, kind, "--wait")
    try:
        child.wait(timeout)
    except subprocess.TimeoutExpired:
        return False
    return True


__all__ = ["JobKind", "run_job", "start_job"]
