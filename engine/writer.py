"""Appending to the log: one serialised write transaction per command, or per group-commit batch.

Every write takes the chain head lock first, so reads made inside the transaction (idempotency
keys, the decision's state) cannot go stale before the append.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from engine.errors import LogIntegrityError
from engine.log.appender import AppendedEvent, NewEvent, append_events, read_tip, write_tip
from engine.store.db import write_transaction
from engine.store.group_commit import Done, Failed, GroupCommitter, Outcome
from policy.compiled import Policy

#: Called inside the append transaction with the events just appended (e.g. the notification
#: outbox), so whatever it writes commits or rolls back together with the events.
AppendHook = Callable[[Connection, list[AppendedEvent], Policy], None]
MAX_WRITE_ATTEMPTS = 5


def _is_retryable(exc: DBAPIError) -> bool:
    # Unique/serialisation failures and SQLite's "database is locked" are safe to retry:
    # the transaction was rolled back whole.
    if isinstance(exc, IntegrityError):
        return True
    code = getattr(exc.orig, "sqlstate", None)
    return code in {"40001", "40P01"} or "locked" in str(exc.orig).lower()


class _JobFailed(Exception):
    """Rolls a group-commit batch back so it can run again without the job that failed."""


class LogWriter:
    def __init__(
        self, engine: Engine, policies: Any, origin: str, clock: Callable[[], datetime], *, group_commit: bool = False
    ) -> None:
        self.engine = engine
        self.policies = policies
        self.origin = origin
        self.clock = clock
        self.append_hooks: list[AppendHook] = []
        #: Governed policy activation (engine.activation); None in tests that run without it.
        self.governance: Any = None
        self._sqlite_writer: Any = threading.Lock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()
        #: Per thread, the chain tip of the write transaction in progress (see appender.ChainTip).
        self._tx = threading.local()
        self._committer = GroupCommitter(self._write_batch) if group_commit else None
        #: Set when the log must not grow (e.g. the database is behind its last signed checkpoint).
        self.append_blocked: str | None = None

    @property
    def group_commit(self) -> bool:
        return self._committer is not None

    def close(self) -> None:
        """Answer the writes still queued for group commit."""
        if self._committer is not None:
            self._committer.close()

    def enqueue(self, work: Callable[[Connection], Any]) -> Future[Any]:
        assert self._committer is not None
        return self._committer.enqueue(work)

    def write(self, work: Callable[[Connection], Any]) -> Any:
        if self._committer is not None:
            return self._committer.submit(work)
        # SQLite admits one writer at a time and makes the others poll with growing sleeps (its busy
        # handler): under load, threads of this process queue on a Python lock instead and take
        # the database lock the moment it is free. PostgreSQL serialises on the head row itself.
        with self._sqlite_writer:
            return self._write_attempts(work)

    def _begin_write(self, conn: Connection) -> None:
        tip = read_tip(conn)
        self._tx.tip = tip
        if self.governance is not None and tip.policy_version != self.policies.current.version:
            self.governance.follow(conn, tip.policy_version)

    def _write_attempts(self, work: Callable[[Connection], Any]) -> Any:
        for attempt in range(MAX_WRITE_ATTEMPTS):
            try:
                with write_transaction(self.engine) as conn:
                    self._begin_write(conn)
                    result = work(conn)
                    write_tip(self._tx.tip)
                    return result
            except DBAPIError as exc:
                if attempt + 1 == MAX_WRITE_ATTEMPTS or not _is_retryable(exc):
                    raise
        raise AssertionError("unreachable")

    def _write_batch(self, works: Sequence[Callable[[Connection], Any]]) -> list[Outcome]:
        """Run `works` in order in one transaction (group commit); one outcome each, after the commit.

        A job that fails takes only itself out: the transaction is rolled back and the batch
        runs again without it, so the others commit exactly as if it had run alone after them
        (its failure was decided on the state they left). A job that failed in the database
        (a unique key raced by another process, say) runs again alone, with the usual retries.
        """
        outcomes: dict[int, Outcome] = {}
        pending = list(range(len(works)))
        alone: list[int] = []
        attempts = 0
        while pending:
            failed: int | None = None
            try:
                with write_transaction(self.engine) as conn:
                    self._begin_write(conn)
                    results: dict[int, Any] = {}
                    for i in pending:
                        try:
                            results[i] = works[i](conn)
                        except DBAPIError:
                            failed = i
                            alone.append(i)
                            raise _JobFailed from None
                        except Exception as exc:  # the job's own error goes to its caller
                            failed = i
                            outcomes[i] = Failed(exc)
                            raise _JobFailed from None
                    write_tip(self._tx.tip)
            except _JobFailed:
                pending.remove(failed)  # type: ignore[arg-type]
                continue
            except DBAPIError as exc:
                attempts += 1
                if attempts < MAX_WRITE_ATTEMPTS and _is_retryable(exc):
                    continue
                outcomes.update((i, Failed(exc)) for i in pending)
                break
            outcomes.update((i, Done(value)) for i, value in results.items())
            break
        for i in alone:
            try:
                outcomes[i] = Done(self._write_attempts(works[i]))
            except Exception as exc:
                outcomes[i] = Failed(exc)
        return [outcomes[i] for i in range(len(works))]

    def now(self) -> datetime:
        """Inside a write: the instant the next append will be stamped with (the log's time never
        goes backwards), so the rules decide at exactly the time the event records."""
        tip = getattr(self._tx, "tip", None)
        now = self.clock()
        if tip is not None and tip.last_at is not None:
            now = max(now, tip.last_at)
        return now

    def append(self, conn: Connection, events: list[NewEvent], at: datetime | None = None) -> list[AppendedEvent]:
        if self.append_blocked is not None:
            raise LogIntegrityError(self.append_blocked)
        clock = self.clock if at is None else (lambda: at)
        appended = append_events(conn, self.origin, clock, events, getattr(self._tx, "tip", None))
        for hook in self.append_hooks:
            hook(conn, appended, self.policies.current)
        return appended
