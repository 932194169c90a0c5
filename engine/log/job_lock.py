"""One verification job at a time per database: a full verification and a replay audit each read the
whole log, and two at once would only halve each other's speed (and the server's share of the CPU).

PostgreSQL: a session advisory lock keyed by the database and schema, so workers on other hosts
see it too. SQLite: an flock on a file beside the database (one host by construction).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text


def _pg_key(database: str, schema: str) -> int:
    digest = hashlib.sha256(f"decision-rights verify job {database} {schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_file_for(engine: Engine) -> str | None:
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    return f"{database}.verify-lock"


@contextmanager
def job_lock(engine: Engine, *, wait: bool = False) -> Iterator[bool]:
    """Yields whether this process holds the lock (always, with `wait`); released on exit."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            database, schema = conn.execute(text("SELECT current_database(), current_schema()")).one()
            key = _pg_key(database, schema)
            if wait:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
                held = True
            else:
                held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            try:
                yield held
            finally:
                if held:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        return
    path = lock_file_for(engine)
    if path is None:
        yield True
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = True
        except BlockingIOError:
            held = False
        try:
            yield held
        finally:
            if held:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def job_running(engine: Engine) -> bool:
    """Whether some process holds the lock now (taken and given back at once when free)."""
    with job_lock(engine) as held:
        return not held


__all__ = ["job_lock", "job_running", "lock_file_for"]
