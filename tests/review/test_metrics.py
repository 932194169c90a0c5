"""Escalation metrics over several quarters of generated history, against the policy's baseline."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from engine.runtime import Runtime
from engine.types import FilingRequest
from tests.support import ManualClock

# Per quarter of 2026: (decisions filed, how many of them escalate to tier 2, to tier 3).
PLAN = {1: (20, 10, 4), 2: (20, 6, 2), 3: (20, 3, 1)}


@pytest.fixture
def clock() -> ManualClock:
    c = ManualClock()
    c.now = datetime(2026, 1, 2, 18, tzinfo=UTC)
    return c


@pytest.fixture
def history(runtime: Runtime, clock: ManualClock) -> Runtime:
    people = runtime.policies.current.people
    for quarter, (total, tier2, tier3) in PLAN.items():
        start = datetime(2026, 3 * quarter - 2, 2, 18, tzinfo=UTC)
        for i in range(total):
            clock.now = start + timedelta(days=i * 4)  # spread over the quarter's ~12 weeks
            if i < tier3:
                request = FilingRequest(title="c", category="contract", attributes={"change": "scope"})
            elif i < tier3 + tier2:
                request = FilingRequest(title="p", category="pipeline", attributes={"risk_score": 80})
            else:
                request = FilingRequest(title="r", category="reporting_format")
            runtime.service.file(people["mei"], request)
    clock.now = datetime(2026, 10, 15, 18, tzinfo=UTC)
    return runtime


def test_quarterly_escalations_fall_against_the_baseline(history: Runtime) -> None:
    report = history.reviews.escalations("quarter", 4)
    assert report.baseline == "2026-01-01..2026-03-31"
    assert report.baseline_escalation_rate == 0.7  # (10 + 4) / 20
    rows = {p.period: p for p in report.periods}
    assert list(rows) == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    q1, q2, q3, q4 = rows.values()
    assert (q1.filed, q1.tier1, q1.tier2, q1.tier3, q1.reached_director) == (20, 6, 10, 4, 4)
    assert (q2.filed, q2.tier2, q2.tier3, q2.escalation_rate) == (20, 6, 2, 0.4)
    assert (q3.filed, q3.escalation_rate) == (20, 0.2)
    assert q2.change_vs_previous == -30.0 and q3.change_vs_previous == -20.0
    assert q1.change_vs_baseline == 0.0 and q3.change_vs_baseline == -50.0  # percentage points
    assert q4.filed == 0 and q4.escalation_rate is None and q4.change_vs_baseline is None


def test_monthly_and_weekly_periods_add_up(history: Runtime) -> None:
    months = history.reviews.escalations("month", 10, day=date(2026, 9, 30))
    assert months.periods[0].period == "2025-12" and months.periods[-1].period == "2026-09"
    assert sum(p.filed for p in months.periods) == 60
    weeks = history.reviews.escalations("week", 52, day=date(2026, 10, 1))
    assert sum(p.filed for p in weeks.periods) == 60
    assert all(p.period.startswith(("2025-W", "2026-W")) for p in weeks.periods)
