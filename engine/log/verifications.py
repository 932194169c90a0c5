"""Stored verification results (the `log_verifications` table): record one, read the latest.

Reads are by log size, on the (kind, size) index: the answer does not grow with the number of
results kept. The frontier travels separately from the public view: it is an input of the next
incremental check, not something a client needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from sqlalchemy import Engine, insert, select

from engine.store.db import read_transaction, write_transaction
from engine.store.verification_tables import LogVerification

if TYPE_CHECKING:
    from engine.log.chain import VerifyResult

_rows = LogVerification.__table__  # type: ignore[attr-defined]

Kind = Literal["full", "incremental", "audit"]
#: The kinds that check the chain (an audit checks legitimacy, not hashes).
CHAIN_KINDS: tuple[Kind, ...] = ("full", "incremental")


class VerificationRecord(msgspec.Struct, kw_only=True):
    """One stored result, as the API and the audit page show it."""

    id: int
    kind: Kind
    #: Events covered: the log's size at the time when ok; up to the first bad event otherwise.
    size: int
    #: An incremental check's starting point: the stored prefix it extended without re-reading.
    base_size: int | None = None
    root: str | None = None
    head_hash: str | None = None
    ok: bool
    first_bad_seq: int | None = None
    reason: str | None = None
    started_at: datetime
    finished_at: datetime


@dataclass(frozen=True, slots=True)
class Resumable:
    """An ok chain result with the Merkle frontier of its prefix."""

    record: VerificationRecord
    frontier: list[str]


_COLUMNS = (
    _rows.c.id,
    _rows.c.kind,
    _rows.c.size,
    _rows.c.base_size,
    _rows.c.root_hash,
    _rows.c.head_hash,
    _rows.c.ok,
    _rows.c.first_bad_seq,
    _rows.c.reason,
    _rows.c.started_at,
    _rows.c.finished_at,
)


def _record(row: Any) -> VerificationRecord:
    return VerificationRecord(
        id=row.id,
        kind=row.kind,
        size=row.size,
        base_size=row.base_size,
        root=row.root_hash,
        head_hash=row.head_hash,
        ok=bool(row.ok),
        first_bad_seq=row.first_bad_seq,
        reason=row.reason,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def record(
    engine: Engine,
    kind: Kind,
    *,
    size: int,
    ok: bool,
    started_at: datetime,
    finished_at: datetime,
    base_size: int | None = None,
    root: str | None = None,
    head_hash: str | None = None,
    first_bad_seq: int | None = None,
    reason: str | None = None,
    frontier: Sequence[bytes] | None = None,
) -> VerificationRecord:
    values = {
        "kind": kind,
        "size": size,
        "base_size": base_size,
        "root_hash": root,
        "head_hash": head_hash,
        "ok": ok,
        "first_bad_seq": first_bad_seq,
        "reason": reason,
        # Only an ok prefix may be built on: a failed one keeps no frontier.
        "frontier": [node.hex() for node in frontier] if ok and frontier is not None else None,
        "started_at": started_at,
        "finished_at": finished_at,
    }
    with write_transaction(engine) as conn:
        new_id = conn.execute(insert(_rows).values(**values).returning(_rows.c.id)).scalar_one()
    return VerificationRecord(
        id=new_id,
        kind=kind,
        size=size,
        base_size=base_size,
        root=root,
        head_hash=head_hash,
        ok=ok,
        first_bad_seq=first_bad_seq,
        reason=reason,
        started_at=started_at,
        finished_at=finished_at,
    )


def record_chain_check(
    engine: Engine,
    kind: Kind,
    result: VerifyResult,
    frontier: Sequence[bytes],
    *,
    started_at: datetime,
    finished_at: datetime,
    base_size: int | None = None,
) -> VerificationRecord:
    """A chain check's result as a row: the full verification and the incremental one store the same fields."""
    return record(
        engine,
        kind,
        size=result.size,
        ok=result.ok,
        started_at=started_at,
        finished_at=finished_at,
        base_size=base_size,
        root=result.root,
        head_hash=result.head_hash,
        first_bad_seq=result.first_bad_seq,
        reason=result.reason,
        frontier=frontier,
    )


def latest(engine: Engine, kinds: Sequence[Kind]) -> VerificationRecord | None:
    """The result covering the most events among `kinds` (the newest of those on a tie)."""
    query = select(*_COLUMNS).where(_rows.c.kind.in_(kinds)).order_by(_rows.c.size.desc(), _rows.c.id.desc()).limit(1)
    with read_transaction(engine) as conn:
        row = conn.execute(query).first()
    return _record(row) if row is not None else None


def newest(engine: Engine, kinds: Sequence[Kind]) -> VerificationRecord | None:
    """The result of `kinds` stored last, whatever it covers."""
    query = select(*_COLUMNS).where(_rows.c.kind.in_(kinds)).order_by(_rows.c.id.desc()).limit(1)
    with read_transaction(engine) as conn:
        row = conn.execute(query).first()
    return _record(row) if row is not None else None


def latest_failure(engine: Engine) -> VerificationRecord | None:
    """The newest failed chain result: it stands until a later full verification passes."""
    query = (
        select(*_COLUMNS)
        .where(_rows.c.kind.in_(CHAIN_KINDS), _rows.c.ok.is_(False))
        .order_by(_rows.c.id.desc())
        .limit(1)
    )
    with read_transaction(engine) as conn:
        row = conn.execute(query).first()
    return _record(row) if row is not None else None


def resumable(engine: Engine, *, at_most: int | None, after_id: int | None) -> Resumable | None:
    """The ok chain result covering the most events, at most `at_most`, recorded after result `after_id`."""
    query = select(*_COLUMNS, _rows.c.frontier).where(_rows.c.kind.in_(CHAIN_KINDS), _rows.c.ok.is_(True))
    if at_most is not None:
        query = query.where(_rows.c.size <= at_most)
    if after_id is not None:
        query = query.where(_rows.c.id > after_id)
    query = query.order_by(_rows.c.size.desc(), _rows.c.id.desc()).limit(1)
    with read_transaction(engine) as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    frontier = row.frontier
    # A row is evidence to check, not to trust: a frontier that is not a list of strings is refused later.
    return Resumable(_record(row), frontier if isinstance(frontier, list) else [])


__all__ = [
    "CHAIN_KINDS",
    "Kind",
    "Resumable",
    "VerificationRecord",
    "latest",
    "latest_failure",
    "newest",
    "record",
    "record_chain_check",
    "resumable",
]
