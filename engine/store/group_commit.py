"""Group commit: the writes of many requests appended in one durable transaction.

Request threads hand their unit of work to one committer thread and wait. The committer
takes every job that queued while it was busy, runs them in order in one transaction
(`run_batch`), commits once, and only then answers each job, so a 201 still means
"durable", while the fixed costs of a transaction (lock, BEGIN, head read, fsync or WAL
flush) are paid once per batch instead of once per request. When nothing else is
waiting a batch holds one job and costs one thread hand-off more than a direct write.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

#: How many jobs one transaction takes at most: bounds the time a batch holds the write lock.
MAX_BATCH = 128


@dataclass(frozen=True, slots=True)
class Done(Generic[T]):
    value: T


@dataclass(frozen=True, slots=True)
class Failed:
    error: BaseException


Outcome = Done[Any] | Failed
#: Runs the jobs in one transaction and returns one outcome per job, in order, after the commit.
BatchRunner = Callable[[Sequence[Callable[..., Any]]], Sequence[Outcome]]

_STOP = object()


class GroupCommitter:
    def __init__(self, run_batch: BatchRunner, max_batch: int = MAX_BATCH, name: str = "group-commit") -> None:
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._name = name
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        #: Batches committed, for the tests (never reset).
        self.batches = 0

    def submit(self, job: Callable[..., Any]) -> Any:
        """Run `job` in the next batch; returns its result or raises its error once the batch committed."""
        if threading.current_thread() is self._thread:
            # A job that writes again would wait on itself: run it in the batch it belongs to.
            raise RuntimeError("a group-commit job may not submit another job")
        return self.enqueue(job).result()

    def enqueue(self, job: Callable[..., Any]) -> Future[Any]:
        """Queue `job` for the next batch; the future resolves once that batch committed.

        Cancelling the future before its batch starts withdraws the job; after, the job commits.
        """
        self._ensure_started()
        future: Future[Any] = Future()
        self._queue.put((job, future))
        return future

    def close(self) -> None:
        """Answer what is queued, then stop the committer thread."""
        with self._start_lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(_STOP)
            thread.join()

    def _ensure_started(self) -> None:
        if self._closed:
            raise RuntimeError("the service is closed")
        if self._thread is not None:
            return
        with self._start_lock:
            if self._closed:
                raise RuntimeError("the service is closed")
            if self._thread is None:
                # Started on first use, so a process that forks workers never inherits a running thread.
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[tuple[Callable[..., Any], Future[Any]]]) -> None:
        # A caller that went away before its batch began (a client disconnected) is not written.
        batch = [(job, future) for job, future in batch if future.set_running_or_notify_cancel()]
        if not batch:
            return
        try:
            outcomes = self._run_batch([job for job, _ in batch])
        except BaseException as exc:  # every waiting request must get an answer
            outcomes = [Failed(exc)] * len(batch)
        self.batches += 1
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Done):
                future.set_result(outcome.value)
            else:
                future.set_exception(outcome.error)
