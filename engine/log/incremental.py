"""Incremental verification: check only the events after the latest stored ok result.

Cost grows with the events appended since that result, not with the history, so the server may
run it on demand. What makes it safe to build on a stored row (which anyone able to write the
database could forge):

- the row must hold together: its frontier has the shape of a tree of its size and gives its root,
  and the stored event just before the seam hashes to its head hash;
- when signed checkpoints exist, the prefix it resumes from is at most the largest one, so the
  stored frontier, extended by the events read now, must reproduce that signed root (a forged
  frontier cannot, short of a SHA-256 collision); every other signed root in the tail is checked;
- a failed result stands until a full verification passes after it: no older ok row is used.

Events before the seam are not re-read; that is what the full verification in the worker
(`python -m engine.log.verify_worker full`) is for, and the page says when it last ran.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import msgspec
from sqlalchemy import Engine, select

from engine.log.canonical import GENESIS_PREV, leaf_hash
from engine.log.chain import VerifyResult
from engine.log.merkle import frontier_root
from engine.log.verifications import Resumable, VerificationRecord, latest_failure, record_chain_check, resumable
from engine.store.db import read_transaction
from engine.store.integrity import VerifiedPrefix, verify_stored
from engine.store.tables import Event

_events = Event.__table__  # type: ignore[attr-defined]


class TrustSource(Protocol):
    """What the check needs of the signed checkpoints (engine.log.checkpoints.CheckpointService has it)."""

    def largest_trusted(self) -> tuple[int, bytes] | None: ...

    def trusted(self, at_least: int = 0) -> list[tuple[int, bytes]]: ...


@dataclass(frozen=True, slots=True)
class Tail:
    """The incremental check's answer. `result` is None when there is nothing stored to resume from."""

    result: VerifyResult | None
    #: The stored result it resumed from (or the failure that stands).
    base: VerificationRecord | None
    #: The size of the signed checkpoint the stored prefix was anchored on; None when none was signed.
    anchored_at: int | None
    #: The Merkle frontier of the verified log when ok (to record the result).
    frontier: list[bytes]
    #: Why nothing could be checked (no stored result to resume from).
    missing: str | None = None


def _row_problem(base: Resumable, body: bytes | None) -> str | None:
    """Whether a stored ok row can be built on: its own fields agree, and with the stored seam event."""
    rec = base.record
    try:
        frontier = [bytes.fromhex(node) for node in base.frontier]
    except (TypeError, ValueError):
        return "its Merkle frontier is not hex"
    if len(frontier) != rec.size.bit_count() or any(len(node) != 32 for node in frontier):
        return f"its Merkle frontier does not have the shape of a tree of {rec.size} events"
    if rec.root is None or frontier_root(frontier, rec.size).hex() != rec.root:
        return "its Merkle frontier does not give the root it records"
    if rec.size == 0:
        return None if rec.head_hash == GENESIS_PREV else "an empty prefix has the genesis head hash"
    if body is None:
        return f"event {rec.size - 1}, the last it covers, is not stored"
    if leaf_hash(body).hex() != rec.head_hash:
        return f"event {rec.size - 1} does not hash to the head hash it records"
    try:
        at = msgspec.json.decode(body).get("at")
    except (msgspec.DecodeError, AttributeError):
        at = None
    if not isinstance(at, str):
        return f"event {rec.size - 1} is not an event with a time (its body is not a log entry)"
    return None


def _seam(engine: Engine, size: int) -> bytes | None:
    if size == 0:
        return None
    with read_transaction(engine) as conn:
        body = conn.execute(select(_events.c.body).where(_events.c.seq == size - 1)).scalar()
    return body.encode() if isinstance(body, str) else body


def verify_tail(engine: Engine, origin: str, checkpoints: TrustSource) -> Tail:
    failure = latest_failure(engine)
    largest = checkpoints.largest_trusted()
    anchored_at = largest[0] if largest is not None else None
    base = resumable(engine, at_most=anchored_at, after_id=failure.id if failure is not None else None)
    if base is None:
        if failure is not None:
            standing = VerifyResult(
                ok=False,
                size=failure.size,
                head_hash=failure.head_hash or GENESIS_PREV,
                first_bad_seq=failure.first_bad_seq,
                reason=failure.reason,
                root=failure.root,
            )
            return Tail(standing, failure, anchored_at, [])
        missing = "no verification is stored yet" + (
            f" that a signed checkpoint ({anchored_at} events) covers" if anchored_at is not None else ""
        )
        return Tail(None, None, anchored_at, [], missing=f"{missing}: run a full verification")
    rec = base.record
    body = _seam(engine, rec.size)
    problem = _row_problem(base, body)
    if problem is not None:
        refused = VerifyResult(
            ok=False,
            size=rec.size,
            head_hash=rec.head_hash or GENESIS_PREV,
            first_bad_seq=None,
            reason=f"the stored verification #{rec.id} cannot be built on: {problem}; run a full verification",
            root=rec.root,
        )
        return Tail(refused, rec, anchored_at, [])
    last_at = msgspec.json.decode(body).get("at") if body is not None else None
    start = VerifiedPrefix(rec.size, rec.head_hash or GENESIS_PREV, [bytes.fromhex(n) for n in base.frontier], last_at)
    verified = verify_stored(engine, origin, checkpoints.trusted(at_least=rec.size), start=start)
    return Tail(verified.result, rec, anchored_at, verified.frontier)


def verify_and_record_tail(
    engine: Engine, origin: str, checkpoints: TrustSource, clock: Callable[[], datetime]
) -> tuple[Tail, VerificationRecord | None]:
    """`decisions log verify --record`: the tail check, stored (nothing is stored when nothing was checked)."""
    started = clock()
    tail = verify_tail(engine, origin, checkpoints)
    if tail.result is None or (tail.base is not None and not tail.base.ok):
        return tail, None  # nothing checked now: a standing failure is already stored
    result = tail.result
    if result.ok and tail.base is not None and result.size == tail.base.size:
        return tail, None  # no new event: the stored result says it all
    stored = record_chain_check(
        engine,
        "incremental",
        result,
        tail.frontier,
        started_at=started,
        finished_at=clock(),
        base_size=tail.base.size if tail.base is not None else None,
    )
    return tail, stored


__all__ = ["Tail", "TrustSource", "verify_and_record_tail", "verify_tail"]
