"""The effect measures per period, at period boundaries (policy timezone, DST) and against the baseline."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from freezegun import freeze_time

from engine.effect.baseline import BaselineItem
from engine.effect.measures import DecidedItem, effect_report, percentile, summarise_baseline
from engine.effect.service import Effect
from engine.runtime import Runtime
from engine.types import FilingRequest, VerdictRequest
from policy import load_policy
from tests.support import DEFAULT_POLICY

POLICY = load_policy(DEFAULT_POLICY)
LA = ZoneInfo("America/Los_Angeles")


def _local(y: int, m: int, d: int, h: int = 0, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=LA).astimezone(UTC)


def _baseline(director: int, others: int, first: date = date(2026, 1, 1), days: int = 90) -> list[BaselineItem]:
    items = [BaselineItem(i, first + timedelta(days=i % days), "contract", "director", 3, 2.0) for i in range(director)]
    items += [
        BaselineItem(director + i, first + timedelta(days=i % days), "pipeline", "squad", 1, None)
        for i in range(others)
    ]
    return items


def test_percentiles_are_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert percentile(list(map(float, range(1, 11))), 0.9) == 9.0


def test_a_decision_at_local_midnight_of_a_quarter_belongs_to_the_new_quarter() -> None:
    edge = _local(2026, 7, 1)  # 07:00 UTC: still June 30 in UTC terms would be wrong
    items = [
        DecidedItem(edge - timedelta(microseconds=1), None, 3, "pending"),
        DecidedItem(edge, edge + timedelta(hours=10), 3, "approved"),
    ]
    report = effect_report(POLICY, "quarter", _local(2026, 7, 15), 1, items, None)
    [q3] = report.periods
    assert (q3.period, q3.filed, q3.reached_director) == ("2026-Q3", 1, 1)
    assert q3.time_to_decision[2].median_hours == 10.0


def test_weeks_across_the_dst_change_count_local_days() -> None:
    # 2026-11-01 02:00 PDT -> PST: the week of Monday 2026-10-26 has a 25-hour Sunday.
    sunday_late = _local(2026, 11, 1, 23, 30)
    monday = _local(2026, 11, 2, 0, 0)
    items = [DecidedItem(sunday_late, None, 2, "pending"), DecidedItem(monday, None, 2, "pending")]
    report = effect_report(POLICY, "week", _local(2026, 11, 3), 2, items, None)
    assert [(p.period, p.filed) for p in report.periods] == [("2026-W44", 1), ("2026-W45", 1)]


def test_director_load_share_overdue_and_hours_against_the_baseline_and_previous() -> None:
    base = summarise_baseline(_baseline(director=90, others=210))  # 1 a day, 30 % of items
    assert base is not None and base.director_per_week == 7.0 and base.director_share == 0.3
    q2, q3 = _local(2026, 4, 1, 9), _local(2026, 7, 1, 9)
    items = [DecidedItem(q2 + timedelta(days=i), q2 + timedelta(days=i, hours=30), 3, "approved") for i in range(60)]
    items += [DecidedItem(q3 + timedelta(days=i), q3 + timedelta(days=i, hours=2), 3, "approved") for i in range(46)]
    items += [DecidedItem(q3 + timedelta(days=i), None, 1, "resolved") for i in range(46)]
    # Overdue: the tier-2 SLA is 3 days; one decided late, one still waiting past it.
    items += [DecidedItem(q3, q3 + timedelta(days=4), 2, "approved"), DecidedItem(q3, None, 2, "pending")]
    now = _local(2026, 10, 1, 0) - timedelta(seconds=1)  # the last second of Q3
    report = effect_report(POLICY, "quarter", now, 2, items, base, adopted_at=q2 - timedelta(hours=9))
    q2p, q3p = report.periods
    assert (q2p.reached_director, q3p.reached_director) == (60, 46)
    assert q3p.days == 92 and q3p.resolved_by_squad == 46 and q3p.overdue == 2
    assert q3p.director_share == round(46 / 94, 4)
    assert q3p.director_load_vs_baseline_pct == round((46 / 92 - 1) * 100, 1)  # half the baseline's daily load
    assert q3p.director_load_vs_previous_pct == round(((46 / 92) / (60 / 91) - 1) * 100, 1)
    assert q3p.director_hours_recaptured == round((92 - 46) * 45 / 60, 1)
    assert q2p.time_to_decision[2].median_hours == 30.0


def test_periods_before_adoption_compare_with_nothing() -> None:
    base = summarise_baseline(_baseline(director=90, others=0))
    adopted = _local(2026, 7, 1, 9)
    report = effect_report(POLICY, "quarter", _local(2026, 7, 20), 2, [], base, adopted_at=adopted)
    before, current = report.periods
    assert before.director_load_vs_baseline_pct is None and before.director_hours_recaptured is None
    assert current.director_load_vs_baseline_pct == -100.0


def test_the_report_reads_the_log_as_of_a_frozen_now(runtime: Runtime) -> None:
    people = runtime.policies.current.people
    runtime.service.clock.now = _local(2026, 9, 30, 23, 0)  # type: ignore[attr-defined]
    filed = runtime.service.file(
        people["mei"], FilingRequest(title="c", category="contract", attributes={"change": "scope"})
    ).decision
    runtime.service.clock.now = _local(2026, 10, 1, 1, 0)  # type: ignore[attr-defined]
    runtime.service.decide(people["dana"], filed.id, VerdictRequest(verdict="approve", reason="ok"))
    effect = Effect(runtime.service, runtime.policies, runtime.service.clock)
    with freeze_time(_local(2026, 10, 2, 12)):
        report = effect.report("quarter", 1, now=datetime.now(UTC))
    [q4] = report.periods
    assert q4.period == "2026-Q4" and q4.filed == 0
    with freeze_time(_local(2026, 9, 30, 23, 30)):
        report = effect.report("quarter", 1, now=datetime.now(UTC))
    [q3] = report.periods
    assert (q3.period, q3.reached_director) == ("2026-Q3", 1)
