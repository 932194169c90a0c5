"""The in-process schedule (DECISIONS_SCHEDULE=1): when a review window closes, sign a checkpoint of the
log and queue that window's digest for the configured channels. Cron can do the same with
`decisions log checkpoint` and `decisions digest send`; the outbox's dedupe key makes both safe together."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from engine.errors import DomainError
from engine.notify.outbox import enqueue_digest

log = logging.getLogger(__name__)


class WindowCloser:
    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.seen: dict[str, int] = {}

    def tick(self) -> list[str]:
        """Act on every window that closed since the last tick; returns the labels acted on."""
        acted = []
        for kind in ("weekly", "biweekly"):
            current = self.runtime.reviews.window(kind)
            last = self.seen.get(kind)
            self.seen[kind] = current.index
            if last is None or current.index <= last:
                continue  # first look, or still the same window
            closed_day = current.start_local - timedelta(days=1)
            try:
                self.runtime.checkpoints.create()
            except (DomainError, OSError, ValueError) as exc:
                log.error("could not sign the window-close checkpoint: %s", exc)
            digest = self.runtime.reviews.digest(kind, closed_day)
            label = f"{digest.cadence}:{digest.window_start.isoformat()}"
            if self.runtime.notify.channels:
                policy = self.runtime.policies.current
                recipients = sorted(p.name for p in policy.people.values() if p.roles & {"tech_pm", "director"})
                # Sent to today's tech PMs and director, in the words of the policy the window closed under.
                enqueue_digest(
                    self.runtime.service.engine, policy, self.runtime.notify, digest, kind, recipients,
                    self.runtime.service.clock(), words=self.runtime.reviews.policy_of(digest),
                )  # fmt: skip
            acted.append(label)
        return acted


def run_schedule(runtime: Any, stop: threading.Event, every_seconds: float = 60.0) -> None:
    closer = WindowCloser(runtime)
    while not stop.is_set():
        try:
            closer.tick()
        except Exception:  # the schedule must outlive one bad tick; the error is logged
            log.exception("review schedule tick failed")
        stop.wait(every_seconds)
