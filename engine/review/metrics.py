"""Escalation metrics per calendar period (pure), and the read of (filed at, tier) pairs they need."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta

import msgspec
from sqlalchemy import Engine, select

from engine.review.windows import Period, local_midnight, period_before, period_for_date
from engine.store.db import read_transaction
from engine.store.tables import Decision
from policy.compiled import Policy

_decisions = Decision.__table__  # type: ignore[attr-defined]


class PeriodMetrics(msgspec.Struct, kw_only=True):
    period: str
    starts: date
    filed: int
    tier1: int
    tier2: int
    tier3: int
    #: Tier-3 decisions: what reached the director.
    reached_director: int
    #: Share of filed decisions that needed someone beyond the squad (tier 2 or 3).
    escalation_rate: float | None
    #: Percentage points against the previous period and against the policy's baseline.
    change_vs_previous: float | None
    change_vs_baseline: float | None


class EscalationReport(msgspec.Struct, kw_only=True):
    period: str
    timezone: str
    baseline: str | None
    baseline_escalation_rate: float | None
    periods: list[PeriodMetrics]


def filed_tiers(engine: Engine, since: datetime, until: datetime) -> list[tuple[datetime, int]]:
    """(filed at, current tier) from the read model (a fold of the log: `decisions log rebuild --check`)."""
    with read_transaction(engine) as conn:
        rows = conn.execute(
            select(_decisions.c.created_at, _decisions.c.tier).where(
                _decisions.c.created_at >= since, _decisions.c.created_at < until
            )
        )
        return [(at, tier) for at, tier in rows]


def _rate(counts: Counter[int], filed: int) -> float | None:
    return round((counts[2] + counts[3]) / filed, 4) if filed else None


def _points(rate: float | None, other: float | None) -> float | None:
    return None if rate is None or other is None else round((rate - other) * 100, 2)


def escalation_report(
    policy: Policy, kind: str, today: date, count: int, filed: Iterable[tuple[datetime, int]]
) -> EscalationReport:
    """The last `count` periods up to the one containing `today` (policy timezone), oldest first."""
    tz = policy.timezone
    periods: list[Period] = [period_for_date(kind, tz, today)]
    while len(periods) < count + 1:  # one more, for the first period's comparison
        periods.append(period_before(periods[-1], tz))
    periods.reverse()
    counts: list[Counter[int]] = [Counter() for _ in periods]
    baseline_counts: Counter[int] = Counter()
    baseline = policy.baseline
    if baseline is not None:
        b_start = _midnight(baseline[0], policy)
        b_end = _midnight(baseline[1] + timedelta(days=1), policy)
    for at, tier in filed:
        for i, p in enumerate(periods):
            if p.start <= at < p.end:
                counts[i][tier] += 1
                break
        if baseline is not None and b_start <= at < b_end:
            baseline_counts[tier] += 1
    baseline_rate = _rate(baseline_counts, sum(baseline_counts.values())) if baseline else None
    out = []
    for i in range(1, len(periods)):
        c, filed_n = counts[i], sum(counts[i].values())
        rate = _rate(c, filed_n)
        out.append(
            PeriodMetrics(
                period=periods[i].label,
                starts=periods[i].start_local,
                filed=filed_n,
                tier1=c[1],
                tier2=c[2],
                tier3=c[3],
                reached_director=c[3],
                escalation_rate=rate,
                change_vs_previous=_points(rate, _rate(counts[i - 1], sum(counts[i - 1].values()))),
                change_vs_baseline=_points(rate, baseline_rate),
            )
        )
    return EscalationReport(
        period=kind,
        timezone=policy.timezone_name,
        baseline=f"{baseline[0].isoformat()}..{baseline[1].isoformat()}" if baseline else None,
        baseline_escalation_rate=baseline_rate,
        periods=out,
    )


def _midnight(day: date, policy: Policy) -> datetime:
    return local_midnight(day, policy.timezone)
