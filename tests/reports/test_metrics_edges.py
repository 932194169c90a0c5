"""Escalation metrics at period and baseline edges: local days in the policy's timezone, not UTC days."""

from __future__ import annotations

from datetime import UTC, date, datetime

import msgspec
import pytest

from engine.review.render import render_escalations
from engine.runtime import Runtime
from tests.reports.helpers import at_local, file
from tests.support import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 1, tzinfo=UTC))


@pytest.fixture
def edges(runtime: Runtime, clock: ManualClock) -> Runtime:
    # 23:30 on 31 March in Los Angeles is already 1 April in UTC: it belongs to March, Q1 and the baseline.
    at_local(clock, "2026-03-31T23:30")
    file(runtime, "mei", "contract", {"change": "scope"}, "last baseline day")
    at_local(clock, "2026-04-01T00:30")
    file(runtime, "mei", "reporting_format", {}, "first day after the baseline")
    file(runtime, "mei", "pipeline", {"risk_score": 80}, "a tier-2 in April")
    at_local(clock, "2026-04-20T12:00")
    return runtime


def test_quarter_and_baseline_edges_are_local_days(edges: Runtime) -> None:
    report = edges.reviews.escalations("quarter", 2)
    assert [p.period for p in report.periods] == ["2026-Q1", "2026-Q2"]
    q1, q2 = report.periods
    assert (q1.filed, q1.tier3, q1.reached_director, q1.escalation_rate) == (1, 1, 1, 1.0)
    assert (q2.filed, q2.tier1, q2.tier2, q2.tier3, q2.escalation_rate) == (2, 1, 1, 0, 0.5)
    assert report.baseline_escalation_rate == 1.0  # only the 31 March contract
    assert (q2.change_vs_previous, q2.change_vs_baseline) == (-50.0, -50.0)


def test_months_split_on_local_midnight(edges: Runtime) -> None:
    months = {p.period: p.filed for p in edges.reviews.escalations("month", 3).periods}
    assert months == {"2026-02": 0, "2026-03": 1, "2026-04": 2}


def test_the_report_renders_the_same_numbers_in_every_format(edges: Runtime) -> None:
    report = edges.reviews.escalations("quarter", 2)
    as_json = msgspec.json.decode(render_escalations(report, "json"))
    assert [p["filed"] for p in as_json["periods"]] == [1, 2]
    md = render_escalations(report, "md").decode()
    assert "| 2026-Q2 | 2 | 1 | 1 | 0 | 50.0% | -50.0 | -50.0 |" in md
    assert "Baseline 2026-01-01..2026-03-31: escalation rate 100.0%" in md
    html = render_escalations(report, "html").decode()
    assert "2026-Q2" in html and "<script" not in html
    assert edges.reviews.escalations("quarter", 2, day=date(2026, 4, 20)) == report
