"""What `decisions db check` and `log verify` check beyond the chain itself: the guards and the head row.

The chain proves the events were not rewritten; it says nothing about the triggers that stop the
next rewrite, nor about the chain head row the appender trusts (a head whose `size` was lowered
makes the next append collide, or worse, fork). Each disagreement is one sentence.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass
from itertools import islice

import msgspec
from sqlalchemy import Connection, Engine, func, select

from engine.errors import LogIntegrityError
from engine.log.appender import ChainHead, read_head
from engine.log.canonical import GENESIS_PREV
from engine.log.chain import ChainVerifier, Record, VerifyResult
from engine.log.merkle import frontier_append, frontier_root
from engine.store.db import read_transaction
from engine.store.guards import guard_problems
from engine.store.stored_events import stored_records
from engine.store.tables import Event

_events = Event.__table__  # type: ignore[attr-defined]


def stored_size(conn: Connection) -> int:
    """How many events the table holds (max(seq) + 1: on the primary key, no scan)."""
    last = conn.execute(select(func.max(_events.c.seq))).scalar()
    return 0 if last is None else int(last) + 1


def head_size_problem(head_size: int, events: int) -> str | None:
    if head_size == events:
        return None
    if head_size < events:
        return (
            f"the chain head row says the log has {head_size} events but the events table holds {events}: "
            "the head row was altered (or rolled back without the events); appends would collide"
        )
    return (
        f"the chain head row says the log has {head_size} events but the events table holds only {events}: "
        "events were removed, or the head row was altered"
    )


def _head_problems(head: ChainHead, head_hash_at: str | None, root_at: bytes | None) -> list[str]:
    problems = []
    if head_hash_at is not None and head.head_hash != head_hash_at:
        problems.append(
            f"the chain head row's hash {head.head_hash[:16]}… is not the leaf hash of event {head.size - 1} "
            f"({head_hash_at[:16]}…): the head row was altered"
        )
    if root_at is not None:
        try:
            stored_root = frontier_root([bytes.fromhex(h) for h in head.frontier], head.size)
        except (ValueError, IndexError):
            stored_root = None
        if stored_root != root_at:
            problems.append(
                f"the chain head row's Merkle frontier does not give the root of the first {head.size} events: "
                "the head row was altered"
            )
    return problems


def _failed(result: VerifyResult, problems: list[str]) -> VerifyResult:
    if not problems or not result.ok:
        return result
    return msgspec.structs.replace(result, ok=False, reason="; ".join(problems))


@dataclass(frozen=True, slots=True)
class VerifiedPrefix:
    """A prefix of the log verified earlier, where a verification resumes (engine/log/incremental.py)."""

    size: int
    head_hash: str
    frontier: list[bytes]
    #: The canonical time of event size - 1 (times never go backwards across the seam either).
    last_at: str | None


@dataclass(frozen=True, slots=True)
class Verified:
    result: VerifyResult
    #: The Merkle frontier of the first `result.size` events when ok: stored, the next check extends it.
    frontier: list[bytes]


def verify_database(engine: Engine, origin: str, checkpoints: Iterable[tuple[int, bytes]] = ()) -> VerifyResult:
    """`log verify` from the database: the chain, the signed checkpoints, the head row and the guards."""
    return verify_stored(engine, origin, checkpoints).result


def verify_stored(
    engine: Engine,
    origin: str,
    checkpoints: Iterable[tuple[int, bytes]] = (),
    start: VerifiedPrefix | None = None,
) -> Verified:
    """The chain from `start` (default: the first event) to the end, the checkpoints it reaches, the head row
    and the guards.

    The head is read before the events and again after them. Events and head commit together, so
    an event the stream saw is counted by the second read (more events than it: the head was
    lowered), and the first read never counts an event the stream could not see. From `start`,
    checkpoints below it are the prefix's business (whoever vouches for it) and are not looked at.
    """
    with read_transaction(engine) as conn:
        before = read_head(conn)
        guards = guard_problems(conn)
    begin = start.size if start is not None else 0
    checkpoints = [(size, signed) for size, signed in checkpoints if size >= begin]
    watch = [size for size, _ in checkpoints] + [before.size]
    if start is None:
        verifier = ChainVerifier(origin, watch=watch)
    else:
        verifier = ChainVerifier.resume(origin, start.size, start.head_hash, start.frontier, start.last_at, watch)
    records: Generator[Record] = stored_records(engine, start=begin)
    try:
        # Two loops instead of a test per event: the verify loop is the hot path of a million-event log.
        for record in islice(records, max(before.size - begin, 0)):
            if not verifier.feed(record):
                break
        head_hash_at = verifier.prev if verifier.size == before.size and verifier.failure is None else None
        root_at = verifier.root() if head_hash_at is not None else None
        if verifier.failure is None:
            for record in records:
                if not verifier.feed(record):
                    break
    finally:
        records.close()  # stopping at a bad event must not leave the cursor's transaction open
    result = verifier.against(checkpoints)
    with read_transaction(engine) as conn:
        after = read_head(conn)
    problems = []
    if result.ok and verifier.size < before.size:
        problems.append(head_size_problem(before.size, verifier.size) or "")
    elif result.ok and verifier.size > after.size:
        problems.append(head_size_problem(after.size, verifier.size) or "")
    else:
        problems += _head_problems(before, head_hash_at, root_at)
    return Verified(_failed(result, problems + guards), list(verifier.frontier))


@dataclass(frozen=True, slots=True)
class CheckReport:
    ok: bool
    events: int
    problems: list[str]


def check_database(engine: Engine) -> CheckReport:
    """`decisions db check`: the guards, and the head row against the stored leaf hashes (no body parsing)."""
    with read_transaction(engine) as conn:
        problems = guard_problems(conn)
        try:
            head = read_head(conn)
        except LogIntegrityError as exc:
            return CheckReport(ok=False, events=stored_size(conn), problems=[*problems, str(exc)])
        rows = conn.execute(select(_events.c.leaf_hash).order_by(_events.c.seq).execution_options(yield_per=20000))
        frontier: list[bytes] = []
        count, last, head_hash_at, root_at = 0, None, None, None
        for (leaf,) in rows:
            if count == head.size:
                head_hash_at, root_at = last or GENESIS_PREV, frontier_root(frontier, count)
            frontier = frontier_append(frontier, count, bytes.fromhex(leaf))
            last, count = leaf, count + 1
        if count == head.size:
            head_hash_at = last or GENESIS_PREV
            root_at = frontier_root(frontier, count)
    size_problem = head_size_problem(head.size, count)
    if size_problem is not None:
        problems.append(size_problem)
    else:
        problems += _head_problems(head, head_hash_at, root_at)
    return CheckReport(ok=not problems, events=count, problems=problems)


__all__ = [
    "CheckReport",
    "Verified",
    "VerifiedPrefix",
    "check_database",
    "head_size_problem",
    "stored_size",
    "verify_database",
    "verify_stored",
]


def schema_problem(engine: Engine) -> str | None:
    """Whether the database's Alembic revision is the migrations' head (triggers are re-installed there)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from engine.store.migrate import alembic_config

    head = ScriptDirectory.from_config(
        alembic_config(engine.url.render_as_string(hide_password=False))
    ).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current != head:
        return f"the schema is at revision {current}, not the latest {head}: run `decisions db upgrade`"
    return None
