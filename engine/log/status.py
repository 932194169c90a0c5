"""What the audit page and GET /v1/log/verify say about the log's integrity, without a full verification:
the tail checked now from the latest stored result, that result, and the latest full verification."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from engine.log.appender import read_head
from engine.log.chain import VerifyResult
from engine.log.incremental import TrustSource, verify_and_record_tail
from engine.log.job_lock import job_running
from engine.log.verifications import VerificationRecord, latest
from engine.store.db import read_transaction


class VerificationStatus(VerifyResult, kw_only=True):
    """The log as far as it is verified (a verification's fields), and how it was: events from
    `checked_from` on were checked now; those before it by the stored result `stored`."""

    #: Events before this one were verified by `stored` and not read again for this answer.
    checked_from: int = 0
    #: The size of the signed checkpoint the stored prefix was checked against (None: none signed yet).
    anchored_at: int | None = None
    #: The stored result this check extended, or the failed one that stands.
    stored: VerificationRecord | None = None
    #: The latest full verification (by log size): when the whole history was last read.
    full: VerificationRecord | None = None
    #: A full verification or replay audit runs in the worker now.
    running: bool = False


def verification_status(
    engine: Engine, origin: str, checkpoints: TrustSource, clock: Callable[[], datetime]
) -> VerificationStatus | None:
    """None when nothing is stored to check from (run the worker's full verification first)."""
    tail, _ = verify_and_record_tail(engine, origin, checkpoints, clock)
    if tail.result is None:
        return None
    result = tail.result
    base = tail.base
    return VerificationStatus(
        ok=result.ok,
        size=result.size,
        head_hash=result.head_hash,
        first_bad_seq=result.first_bad_seq,
        reason=result.reason,
        root=result.root,
        checked_from=base.size if base is not None and base.ok else result.size,
        anchored_at=tail.anchored_at,
        stored=base,
        full=latest(engine, ["full"]),
        running=job_running(engine),
    )


def unverified(engine: Engine, why: str) -> VerificationStatus:
    """The answer when nothing is stored yet and the full verification has not finished."""
    with read_transaction(engine) as conn:
        head = read_head(conn)
    return VerificationStatus(
        ok=False,
        size=head.size,
        head_hash=head.head_hash,
        reason=why,
        full=latest(engine, ["full"]),
        running=job_running(engine),
    )


__all__ = ["VerificationStatus", "unverified", "verification_status"]
