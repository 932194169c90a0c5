"""Digests and metrics for the API and the CLI: the store reads, then the pure builders."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from engine.errors import DomainError, FieldError, InvalidInput
from engine.log.checkpoint import parse_checkpoint
from engine.review.digest import BaselineComparison, Digest, LogAtEnd, build_digest
from engine.review.metrics import EscalationReport, baseline_range, escalation_report, report_periods, tiers_filed
from engine.review.source import digest_rows, log_position_at, tier_counts
from engine.review.windows import PERIODS, Window, previous, window_by_index, window_for_date
from policy.compiled import Cadence, Policy

#: Digest kinds and the cadence each prefers by name, else by length.
KINDS = {"weekly": ("weekly_sync", 7), "biweekly": ("director_review", 14)}
TREND_WINDOWS = 8


def cadence_for(policy: Policy, kind: str) -> Cadence:
    if kind not in KINDS:
        raise InvalidInput([FieldError("$.kind", "weekly or biweekly")])
    name, days = KINDS[kind]
    if name in policy.cadences:
        return policy.cadences[name]
    for cadence in policy.cadences.values():
        if cadence.every == timedelta(days=days):
            return cadence
    raise InvalidInput([FieldError("$.kind", f"the policy has no {days}-day review cadence")])


FIRST_DIGEST_DAY = date(1900, 1, 1)
LAST_DIGEST_DAY = date(9000, 12, 31)


class Reviews:
    def __init__(
        self,
        engine: Engine,
        policies: Any,
        checkpoints: Any,
        clock: Callable[[], datetime],
        policy_at: Callable[[datetime], Policy] | None = None,
        baseline: Callable[[], Any] | None = None,
    ) -> None:
        self.engine = engine
        self.policies = policies
        self.checkpoints = checkpoints
        self.clock = clock
        #: The policy in force at an instant; a closed window is always read under its own policy.
        self.policy_at = policy_at
        #: The imported pre-adoption baseline's summary (engine.effect), or None.
        self.baseline = baseline

    def window(self, kind: str, day: date | None = None) -> Window:
        policy: Policy = self.policies.current
        cadence = cadence_for(policy, kind)
        return window_for_date(cadence, policy.timezone, day or self.clock().astimezone(policy.timezone).date())

    def digest(self, kind: str, day: date | None = None) -> Digest:
        if day is not None and not FIRST_DIGEST_DAY <= day <= LAST_DIGEST_DAY:
            # A digest looks back over trend windows and forward to its window's end: far enough from
            # either end of the calendar that arithmetic stays inside it.
            raise InvalidInput(
                [FieldError("$.query.date", f"must be between {FIRST_DIGEST_DAY} and {LAST_DIGEST_DAY}")]
            )
        policy: Policy = self.policies.current
        cadence = cadence_for(policy, kind)
        tz = policy.timezone
        now = self.clock()
        window = window_for_date(cadence, tz, day or now.astimezone(tz).date())
        if now >= window.end and self.policy_at is not None:
            # Tier names, SLAs and the cadence itself as they were when the window closed: a later
            # activation never rewrites a closed window's digest.
            policy = self.policy_at(window.end)
            cadence = cadence_for(policy, kind)
            tz = policy.timezone
            window = window_for_date(cadence, tz, day or now.astimezone(tz).date())
        trend = [window_by_index(cadence, tz, window.index - i) for i in range(TREND_WINDOWS - 1, -1, -1)]
        as_of = min(now, window.end)
        # Nothing is logged after now, so reading up to the window's end is "so far" for an open window.
        position = log_position_at(self.engine, window.end)
        in_window, waiting = digest_rows(self.engine, policy, window.start, window.end, as_of, position.size)
        earlier = previous(cadence, tz, window)
        *trend_counts, previous_counts = tier_counts(self.engine, [*trend, earlier], window.end)
        note = self._checkpoint_note(position.size, closed=now >= window.end)
        signed_by = [f"{s.name}+{s.key_id.hex()}" for s in parse_checkpoint(note).signatures] if note else []
        log = LogAtEnd(size=position.size, head_hash=position.head_hash, checkpoint=note, signed_by=signed_by)
        built = build_digest(
            policy, cadence.name, window, earlier, trend, in_window, waiting, trend_counts, previous_counts, as_of, log
        )
        built.title = cadence.display
        built.baseline = self._against_baseline(built)
        return built

    def policy_of(self, built: Digest) -> Policy:
        """The policy `built` was made under, whose words (categories, people) its Markdown and HTML use: the
        one in force at a closed window's end, so a later activation never renames a closed digest."""
        if built.closed and self.policy_at is not None:
            return self.policy_at(built.ends_at)
        current: Policy = self.policies.current
        return current

    def _against_baseline(self, built: Digest) -> BaselineComparison | None:
        summary = self.baseline() if self.baseline is not None else None
        if summary is None:
            return None
        days = max(1.0, (built.as_of - built.starts_at).total_seconds() / 86400)
        expected = summary.reached_director / summary.days * days
        director = built.by_tier.get("3", 0)
        return BaselineComparison(
            reached_director=director,
            expected_from_baseline=round(expected, 1),
            change_pct=round((director / expected - 1) * 100, 1) if expected else None,
            baseline_share=summary.director_share,
            import_seq=summary.import_seq,
        )

    def _checkpoint_note(self, size: int, closed: bool) -> str | None:
        if self.checkpoints is None:
            return None
        covering = self.checkpoints.first_covering(size)
        if covering is None and closed:
            # A closed window gets its checkpoint the first time anyone asks (or at `decisions digest send`):
            # from then on the digest names that same checkpoint, byte for byte.
            try:
                self.checkpoints.create()
            except (DomainError, OSError, ValueError):
                return None
            covering = self.checkpoints.first_covering(size)
        return covering.note if covering is not None else None

    def escalations(self, period: str, count: int = 8, day: date | None = None) -> EscalationReport:
        if period not in PERIODS:
            raise InvalidInput([FieldError("$.query.period", f"one of {', '.join(PERIODS)}")])
        policy: Policy = self.policies.current
        tz = policy.timezone
        today = day or self.clock().astimezone(tz).date()
        periods = report_periods(policy, period, today, count)
        # Nothing filed after tomorrow is counted (as when the rows were fetched): only a clock put back shows it.
        until = self.clock() + timedelta(days=1)
        ranges = [(p.start, min(p.end, until)) for p in periods]
        baseline = baseline_range(policy)
        if baseline is not None:
            ranges.append((baseline[0], min(baseline[1], until)))
        counts = tiers_filed(self.engine, ranges)
        baseline_counts = counts.pop() if baseline is not None else Counter[int]()
        report = escalation_report(policy, period, periods, counts, baseline_counts)
        summary = self.baseline() if self.baseline is not None else None
        if summary is not None:
            # The imported pre-adoption record is the baseline that matters: the log is empty before adoption.
            rate = round(summary.escalated_share, 4)
            report.baseline = f"imported {summary.first_day.isoformat()}..{summary.last_day.isoformat()}"
            report.baseline_escalation_rate = rate
            for p in report.periods:
                p.change_vs_baseline = None if p.escalation_rate is None else round((p.escalation_rate - rate) * 100, 2)
        return report
