"""Escalation metrics per calendar period (pure), and the per-period counts by tier they need (SQL)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import msgspec
from sqlalchemy import BigInteger, Engine, Select, cast, func, literal, select, union_all

from engine.review.windows import Period, local_midnight, period_before, period_for_date
from engine.store.db import read_transaction
from engine.store.tables import Decision, DecisionDay
from policy.compiled import Policy

_decisions = Decision.__table__  # type: ignore[attr-defined]
_days = DecisionDay.__table__  # type: ignore[attr-defined]


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


def tiers_filed(engine: Engine, ranges: Sequence[tuple[datetime, datetime]]) -> list[Counter[int]]:
    """Per [start, end) range, decisions filed in it by current tier, from the read model (a fold of the log:
    `decisions log rebuild --check`): the whole UTC days inside it from `decision_days` (a row per day), the
    part-days at its edges counted off `ix_decisions_created_tier`. Never a row per decision into Python,
    and one statement for all the ranges (each a round trip to PostgreSQL otherwise)."""
    parts: list[Select[Any]] = []
    for i, (start, end) in enumerate(ranges):
        first, last = _utc_midnight_after(start), _utc_midnight_before(end)
        pieces = [(start, first), (last, end)] if first < last else [(start, end)]
        parts += [tagged(i, tiers_filed_query(s, e)) for s, e in pieces if s < e]
        if first < last:
            parts.append(tagged(i, days_query(first.date(), last.date())))
    out: list[Counter[int]] = [Counter() for _ in ranges]
    if parts:
        with read_transaction(engine) as conn:
            for i, tier, n in conn.execute(union_all(*parts)):
                out[i][tier] += int(n)
    return out


def tagged(i: int, query: Select[Any]) -> Select[Any]:
    """`query`'s (tier, count) rows with the index of the range they belong to in front."""
    tier, n = query.selected_columns
    return query.with_only_columns(literal(i).label("k"), tier, cast(n, BigInteger).label("n"))


def days_query(first: date, last: date) -> Select[Any]:
    """Decisions filed on the UTC days [first, last) by tier, from `decision_days`."""
    return (
        select(_days.c.tier, func.sum(_days.c.n)).where(_days.c.day >= first, _days.c.day < last).group_by(_days.c.tier)
    )


def _utc_midnight_after(moment: datetime) -> datetime:
    """The first UTC midnight at or after `moment`."""
    midnight = datetime.combine(moment.astimezone(UTC).date(), time(), UTC)
    return midnight if midnight == moment else midnight + timedelta(days=1)


def _utc_midnight_before(moment: datetime) -> datetime:
    """The last UTC midnight at or before `moment`."""
    return datetime.combine(moment.astimezone(UTC).date(), time(), UTC)


def tiers_filed_query(start: datetime, end: datetime, unamended: bool = False) -> Select[Any]:
    """Decisions filed in [start, end) by tier (`unamended`: only those never amended, whose tier is their
    filing's): read off `ix_decisions_created_tier` (created_at, tier, amendments) alone."""
    conditions = [_decisions.c.created_at >= start, _decisions.c.created_at < end]
    if unamended:
        conditions.append(_decisions.c.amendments == 0)
    return select(_decisions.c.tier, func.count()).where(*conditions).group_by(_decisions.c.tier)


def report_periods(policy: Policy, kind: str, today: date, count: int) -> list[Period]:
    """The last `count` periods up to the one containing `today` (policy timezone), oldest first, and one
    more before them, for the first one's comparison."""
    tz = policy.timezone
    periods: list[Period] = [period_for_date(kind, tz, today)]
    while len(periods) < count + 1:
        periods.append(period_before(periods[-1], tz))
    periods.reverse()
    return periods


def baseline_range(policy: Policy) -> tuple[datetime, datetime] | None:
    """The policy's baseline days as instants [first midnight, the midnight after the last day)."""
    if policy.baseline is None:
        return None
    return _midnight(policy.baseline[0], policy), _midnight(policy.baseline[1] + timedelta(days=1), policy)


def _rate(counts: Counter[int], filed: int) -> float | None:
    return round((counts[2] + counts[3]) / filed, 4) if filed else None


def _points(rate: float | None, other: float | None) -> float | None:
    return None if rate is None or other is None else round((rate - other) * 100, 2)


def escalation_report(
    policy: Policy,
    kind: str,
    periods: Sequence[Period],
    counts: Sequence[Counter[int]],
    baseline_counts: Counter[int],
) -> EscalationReport:
    """`periods` from `report_periods`, `counts` the filings of each by tier, `baseline_counts` those of the
    policy's baseline days (`tiers_filed`)."""
    baseline = policy.baseline
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
