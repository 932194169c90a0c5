"""Checkpoints signed without anyone asking: whenever the log has grown, on a cadence
(DECISIONS_CHECKPOINT_EVERY, default 60s, `0` to turn it off) and before every export, so that
an auditor's offline check works on a fresh server and never finds the checkpoint far behind.

Signing when nothing was appended would only pile up identical checkpoints, so each pass first
compares the head's size with the latest checkpoint's (two one-row reads) and signs only on growth.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from engine.errors import DomainError
from engine.log.appender import read_head
from engine.log.checkpoints import CheckpointService, StoredCheckpoint
from engine.store.db import read_transaction
from engine.store.tables import Event
from policy.durations import DURATION_HINT, parse_duration

log = logging.getLogger(__name__)
_events = Event.__table__  # type: ignore[attr-defined]

ENV = "DECISIONS_CHECKPOINT_EVERY"
DEFAULT_EVERY = timedelta(seconds=60)


def checkpoint_every_from_env() -> timedelta | None:
    """The cadence, or None when turned off (`0`); a value that is not a duration is an error at start-up."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return DEFAULT_EVERY
    if raw in ("0", "off"):
        return None
    try:
        return parse_duration(raw)
    except ValueError as exc:
        raise ValueError(f"{ENV}={raw!r}: {exc}; {DURATION_HINT}, or 0 to turn it off") from exc


def log_size(engine: Engine) -> int:
    with read_transaction(engine) as conn:
        return read_head(conn).size


def sign_if_grown(checkpoints: CheckpointService) -> StoredCheckpoint | None:
    """Sign the head when it is past the latest checkpoint; returns the new checkpoint, else None."""
    latest = checkpoints.latest()
    if latest is not None and latest.size >= log_size(checkpoints.engine):
        return None
    return checkpoints.create()


def sign_before_export(checkpoints: CheckpointService) -> None:
    """An export is worth most with a checkpoint that covers it; a refusal to sign must not stop the export
    (a log the service refuses to sign is exactly the one an auditor needs to take away and examine)."""
    try:
        sign_if_grown(checkpoints)
    except (DomainError, OSError) as exc:
        log.error("could not sign a checkpoint before the export: %s", exc)


def run_checkpointer(checkpoints: CheckpointService, stop: threading.Event, every: timedelta) -> None:
    """The server's loop: one pass per `every`, until `stop` is set."""
    while not stop.wait(every.total_seconds()):
        try:
            sign_if_grown(checkpoints)
        except Exception:  # the loop must outlive one bad pass (database restarting, ...); the error is logged
            log.exception("signing a checkpoint failed")


@dataclass(frozen=True, slots=True)
class Lag:
    """How far the latest checkpoint is behind the log, for the audit page."""

    log_size: int
    checkpoint_size: int

    def sentence(self) -> str:
        if self.checkpoint_size == 0:
            return f"No checkpoint covers the log yet: none of its {self.log_size} events can be proven offline."
        behind = self.log_size - self.checkpoint_size
        return (f"The latest checkpoint covers {self.checkpoint_size} of {self.log_size} events: the last {behind} "
                "cannot be proven offline until a newer checkpoint is signed.")  # fmt: skip


def checkpoint_lag(checkpoints: CheckpointService, now: datetime, every: timedelta | None) -> Lag | None:
    """A Lag when an event has waited longer than the signer should take to be covered by a checkpoint
    (twice its cadence, at least two minutes; any wait at all when automatic signing is off)."""
    latest = checkpoints.latest()
    covered = latest.size if latest is not None else 0
    with read_transaction(checkpoints.engine) as conn:
        size = read_head(conn).size
        if covered >= size:
            return None
        first_uncovered = conn.execute(select(_events.c.at).where(_events.c.seq == covered)).scalar_one()
    grace = max(2 * every, timedelta(minutes=2)) if every is not None else timedelta()
    if now - as_utc(first_uncovered) <= grace:
        return None
    return Lag(size, covered)


def as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
