"""Full verification and the replay audit, with their results stored (the worker and the CLI's --record)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from engine.log.audit import AuditResult, audit_database
from engine.log.chain import VerifyResult
from engine.log.verifications import VerificationRecord, record, record_chain_check
from engine.store.integrity import verify_stored


def verify_full_and_record(
    engine: Engine,
    origin: str,
    checkpoints: list[tuple[int, bytes]],
    clock: Callable[[], datetime],
) -> tuple[VerifyResult, VerificationRecord]:
    started = clock()
    verified = verify_stored(engine, origin, checkpoints)
    result = verified.result
    stored = record_chain_check(engine, "full", result, verified.frontier, started_at=started, finished_at=clock())
    return result, stored


def audit_and_record(
    engine: Engine, clock: Callable[[], datetime], progress: Callable[[int], None] | None = None
) -> tuple[AuditResult, VerificationRecord]:
    started = clock()
    result = audit_database(engine, progress)
    stored = record(
        engine,
        "audit",
        size=result.size,
        ok=result.ok,
        started_at=started,
        finished_at=clock(),
        first_bad_seq=result.first_bad_seq,
        reason=result.reason,
    )
    return result, stored


__all__ = ["audit_and_record", "verify_full_and_record"]
