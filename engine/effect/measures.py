"""The effect of decision rights, per week / month / quarter (pure): what reached the director against the
pre-adoption baseline and the previous period, what the squad resolved, time to decision per tier
(median and p90), overdue items, and an estimate of the director's hours recaptured."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import msgspec

from engine.effect.baseline import BaselineItem
from engine.review.windows import Period, period_before, period_for_date
from policy.compiled import Policy

DEFAULT_DIRECTOR_MINUTES = 45.0


@dataclass(frozen=True, slots=True)
class DecidedItem:
    """One decision as the measures see it (from the read model, itself a fold of the log)."""

    created_at: datetime
    decided_at: datetime | None
    tier: int
    status: str


class TierTiming(msgspec.Struct, kw_only=True):
    tier: int
    decided: int
    median_hours: float | None
    p90_hours: float | None


class BaselineSummary(msgspec.Struct, kw_only=True):
    first_day: date
    last_day: date
    days: int
    items: int
    reached_director: int
    director_share: float
    #: Share decided beyond the squad (tier 2 or 3): the escalation report's baseline rate.
    escalated_share: float
    director_per_week: float
    median_wait_days: float | None
    #: The log's `baseline_imported` event that vouches for these rows, and their digest.
    import_seq: int | None = None
    digest: str | None = None


class EffectPeriod(msgspec.Struct, kw_only=True):
    period: str
    starts: date
    #: Days of the period elapsed (a current period is partial).
    days: int
    filed: int
    resolved_by_squad: int
    signed_off_by_tech_pm: int
    reached_director: int
    director_share: float | None
    time_to_decision: list[TierTiming]
    overdue: int
    #: Percent change of the director's items per day: against the baseline and the previous period.
    director_load_vs_baseline_pct: float | None
    director_load_vs_previous_pct: float | None
    #: Percentage points of the director's share against the baseline's.
    director_share_vs_baseline_pts: float | None
    #: (items the baseline rate predicts for these days - items that reached the director) x minutes.
    director_hours_recaptured: float | None


class EffectReport(msgspec.Struct, kw_only=True):
    period: str
    timezone: str
    minutes_per_director_item: float
    baseline: BaselineSummary | None
    periods: list[EffectPeriod]


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1) of sorted-able values; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def summarise_baseline(
    items: Sequence[BaselineItem], import_seq: int | None = None, digest: str | None = None
) -> BaselineSummary | None:
    if not items:
        return None
    first = min(i.day for i in items)
    last = max(i.day for i in items)
    days = (last - first).days + 1
    director = sum(1 for i in items if i.tier == 3)
    waits = [i.waited_days for i in items if i.waited_days is not None]
    return BaselineSummary(
        first_day=first,
        last_day=last,
        days=days,
        items=len(items),
        reached_director=director,
        director_share=round(director / len(items), 4),
        escalated_share=round(sum(1 for i in items if i.tier > 1) / len(items), 4),
        director_per_week=round(director * 7 / days, 2),
        median_wait_days=percentile(waits, 0.5),
        import_seq=import_seq,
        digest=digest,
    )


def _pct(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None or reference == 0:
        return None
    return round((value / reference - 1) * 100, 1)


def _timings(items: Iterable[DecidedItem]) -> list[TierTiming]:
    by_tier: dict[int, list[float]] = {1: [], 2: [], 3: []}
    for item in items:
        if item.decided_at is None or item.status == "withdrawn":
            continue
        by_tier.setdefault(item.tier, []).append((item.decided_at - item.created_at).total_seconds() / 3600)
    out = []
    for tier in sorted(by_tier):
        hours = by_tier[tier]
        median = percentile(hours, 0.5)
        p90 = percentile(hours, 0.9)
        out.append(
            TierTiming(
                tier=tier,
                decided=len(hours),
                median_hours=None if median is None else round(median, 2),
                p90_hours=None if p90 is None else round(p90, 2),
            )
        )
    return out


def _overdue(items: Iterable[DecidedItem], policy: Policy, now: datetime) -> int:
    count = 0
    for item in items:
        tier = policy.tiers.get(item.tier)
        if tier is None or tier.sla is None or item.status == "withdrawn":
            continue
        if (item.decided_at or now) > item.created_at + tier.sla:
            count += 1
    return count


def effect_report(
    policy: Policy,
    kind: str,
    now: datetime,
    count: int,
    items: Iterable[DecidedItem],
    baseline: BaselineSummary | None,
    adopted_at: datetime | None = None,
) -> EffectReport:
    """The last `count` periods up to the one containing `now` (policy timezone), oldest first.

    `adopted_at` (the log's first decision): days before it are not compared with anything, so a
    period before adoption shows no change rather than a fall to zero."""
    tz = policy.timezone
    today = now.astimezone(tz).date()
    periods: list[Period] = [period_for_date(kind, tz, today)]
    while len(periods) < count + 1:  # one more, for the first period's comparison
        periods.append(period_before(periods[-1], tz))
    periods.reverse()
    buckets: list[list[DecidedItem]] = [[] for _ in periods]
    for item in items:
        for i, p in enumerate(periods):
            if p.start <= item.created_at < p.end:
                buckets[i].append(item)
                break
    minutes = policy.director_minutes_per_item or DEFAULT_DIRECTOR_MINUTES
    base_per_day = baseline.reached_director / baseline.days if baseline is not None else None

    def per_day(i: int) -> tuple[int, float | None]:
        p = periods[i]
        begins = p.start if adopted_at is None else min(p.end, max(p.start, adopted_at))
        elapsed = (min(p.end, max(now, begins)) - begins) / timedelta(days=1)
        # A period that has begun (since adoption) counts at least one day, however short.
        days = max(1, round(elapsed)) if begins < p.end and now >= begins else 0
        director = sum(1 for d in buckets[i] if d.tier == 3)
        return days, (director / days if days else None)

    out = []
    for i in range(1, len(periods)):
        bucket = buckets[i]
        days, load = per_day(i)
        _, previous_load = per_day(i - 1)
        filed = len(bucket)
        director = sum(1 for d in bucket if d.tier == 3)
        share = round(director / filed, 4) if filed else None
        recaptured = None
        if base_per_day is not None and days:
            recaptured = round(max(0.0, base_per_day * days - director) * minutes / 60, 1)
        out.append(
            EffectPeriod(
                period=periods[i].label,
                starts=periods[i].start_local,
                days=days,
                filed=filed,
                resolved_by_squad=sum(1 for d in bucket if d.tier == 1),
                signed_off_by_tech_pm=sum(1 for d in bucket if d.tier == 2),
                reached_director=director,
                director_share=share,
                time_to_decision=_timings(bucket),
                overdue=_overdue(bucket, policy, now),
                director_load_vs_baseline_pct=_pct(load, base_per_day),
                director_load_vs_previous_pct=_pct(load, previous_load),
                director_share_vs_baseline_pts=(
                    None if share is None or baseline is None else round((share - baseline.director_share) * 100, 2)
                ),
                director_hours_recaptured=recaptured,
            )
        )
    return EffectReport(
        period=kind,
        timezone=policy.timezone_name,
        minutes_per_director_item=minutes,
        baseline=baseline,
        periods=out,
    )
