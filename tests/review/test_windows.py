"""Review windows in the policy's timezone: week and fortnight edges, parity, DST, Sunday night."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from engine.review.windows import period_for_date, window_at, window_by_index, window_for_date
from policy.compiled import Cadence

LA = ZoneInfo("America/Los_Angeles")
WEEK = Cadence("weekly_sync", timedelta(weeks=1), date(2026, 1, 5))
FORTNIGHT = Cadence("director_review", timedelta(weeks=2), date(2026, 1, 5))


def _now_window(cadence: Cadence) -> tuple[date, date]:
    w = window_at(cadence, LA, datetime.now(UTC))
    return w.start_local, w.end_local


def test_the_last_microsecond_of_a_week_and_the_first_of_the_next() -> None:
    # Monday 2026-02-02 00:00 in Los Angeles is 08:00 UTC (PST, UTC-8).
    with freeze_time("2026-02-02 07:59:59.999999"):
        assert _now_window(WEEK) == (date(2026, 1, 26), date(2026, 2, 2))
    with freeze_time("2026-02-02 08:00:00"):
        assert _now_window(WEEK) == (date(2026, 2, 2), date(2026, 2, 9))
    w = window_for_date(WEEK, LA, date(2026, 2, 2))
    assert w.start == datetime(2026, 2, 2, 8, tzinfo=UTC)
    assert not w.contains(w.end) and w.contains(w.end - timedelta(microseconds=1))


def test_a_decision_filed_at_2359_on_sunday_belongs_to_that_week() -> None:
    # Sunday 2026-02-08 23:59 PST = Monday 07:59 UTC: already "next week" in UTC, still this week locally.
    with freeze_time("2026-02-09 07:59:00"):
        assert _now_window(WEEK) == (date(2026, 2, 2), date(2026, 2, 9))


def test_fortnight_parity_is_relative_to_the_anchor() -> None:
    assert window_for_date(FORTNIGHT, LA, date(2026, 1, 5)).start_local == date(2026, 1, 5)
    assert window_for_date(FORTNIGHT, LA, date(2026, 1, 18)).start_local == date(2026, 1, 5)
    assert window_for_date(FORTNIGHT, LA, date(2026, 1, 19)).start_local == date(2026, 1, 19)
    # Before the anchor the grid continues backwards (floor division, not truncation).
    assert window_for_date(FORTNIGHT, LA, date(2026, 1, 4)).start_local == date(2025, 12, 22)
    assert window_for_date(FORTNIGHT, LA, date(2026, 1, 4)).index == -1
    with freeze_time("2026-03-16 12:00:00"):  # 10 weeks after the anchor: an even week, a new fortnight
        assert _now_window(FORTNIGHT) == (date(2026, 3, 16), date(2026, 3, 30))
    with freeze_time("2026-03-23 12:00:00"):  # 11 weeks: the same fortnight's second week
        assert _now_window(FORTNIGHT) == (date(2026, 3, 16), date(2026, 3, 30))
    assert window_for_date(FORTNIGHT, LA, date(2026, 3, 16)).start_local == date(2026, 3, 16)
    assert window_for_date(FORTNIGHT, LA, date(2026, 3, 15)).start_local == date(2026, 3, 2)


@pytest.mark.parametrize(
    ("monday", "hours", "start_utc_hour", "end_utc_hour"),
    [
        (date(2026, 3, 2), 167, 8, 7),  # DST starts Sunday 2026-03-08: a 167-hour week
        (date(2026, 10, 26), 169, 7, 8),  # DST ends Sunday 2026-11-01: a 169-hour week
        (date(2026, 2, 2), 168, 8, 8),
    ],
)
def test_a_week_spanning_a_dst_change_still_runs_monday_to_monday(
    monday: date, hours: int, start_utc_hour: int, end_utc_hour: int
) -> None:
    w = window_for_date(WEEK, LA, monday + timedelta(days=3))
    assert (w.start_local, w.end_local) == (monday, monday + timedelta(days=7))
    assert w.end - w.start == timedelta(hours=hours)
    assert (w.start.hour, w.end.hour) == (start_utc_hour, end_utc_hour)
    assert w.start.astimezone(LA).hour == 0 and w.end.astimezone(LA).hour == 0


def test_windows_tile_the_timeline_without_gaps_across_a_year() -> None:
    first = window_by_index(WEEK, LA, 0)
    previous_end = first.start
    for index in range(60):
        w = window_by_index(WEEK, LA, index)
        assert w.start == previous_end
        previous_end = w.end
    # The fortnight during which DST starts: 2026-03-02 .. 03-16.
    f = window_for_date(FORTNIGHT, LA, date(2026, 3, 8))
    assert f.end - f.start == timedelta(hours=14 * 24 - 1)


def test_calendar_periods_for_metrics() -> None:
    q = period_for_date("quarter", LA, date(2026, 5, 17))
    assert (q.start_local, q.end_local, q.label) == (date(2026, 4, 1), date(2026, 7, 1), "2026-Q2")
    m = period_for_date("month", LA, date(2026, 12, 31))
    assert (m.start_local, m.end_local, m.label) == (date(2026, 12, 1), date(2027, 1, 1), "2026-12")
    w = period_for_date("week", LA, date(2026, 11, 1))  # a Sunday
    assert (w.start_local, w.label) == (date(2026, 10, 26), "2026-W44")
    with pytest.raises(ValueError):
        period_for_date("year", LA, date(2026, 1, 1))
