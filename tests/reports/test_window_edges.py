"""Window edges around the autumn DST change and at the exact instant a week ends, down to the digest."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from engine.review.windows import window_at, window_for_date
from engine.runtime import Runtime
from policy.compiled import Cadence
from tests.reports.helpers import at_local, file
from tests.support import ManualClock

LA = ZoneInfo("America/Los_Angeles")
WEEK = Cadence("weekly_sync", timedelta(weeks=1), date(2026, 1, 5))
FORTNIGHT = Cadence("director_review", timedelta(weeks=2), date(2026, 1, 5))


def _now() -> tuple[date, date]:
    w = window_at(WEEK, LA, datetime.now(UTC))
    return w.start_local, w.end_local


def test_the_repeated_hour_of_the_autumn_change_is_one_week() -> None:
    # 01:30 happens twice on Sunday 2026-11-01 (08:30 UTC in PDT, 09:30 UTC in PST): both in the week of 10-26.
    for instant in ("2026-11-01 08:30:00", "2026-11-01 09:30:00"):
        with freeze_time(instant):
            assert _now() == (date(2026, 10, 26), date(2026, 11, 2))
    # Sunday 23:59:59.999999 PST is Monday 07:59:59.999999 UTC; a microsecond later the next week starts.
    with freeze_time("2026-11-02 07:59:59.999999"):
        assert _now() == (date(2026, 10, 26), date(2026, 11, 2))
    with freeze_time("2026-11-02 08:00:00"):
        assert _now() == (date(2026, 11, 2), date(2026, 11, 9))


def test_the_first_microsecond_after_the_spring_week() -> None:
    # The week of 2026-03-02 started at 08:00 UTC (PST) and ends at 07:00 UTC (PDT) on 2026-03-09.
    with freeze_time("2026-03-09 06:59:59.999999"):
        assert _now() == (date(2026, 3, 2), date(2026, 3, 9))
    with freeze_time("2026-03-09 07:00:00"):
        assert _now() == (date(2026, 3, 9), date(2026, 3, 16))


def test_the_autumn_fortnight_is_one_hour_longer_and_parity_holds_across_the_year() -> None:
    f = window_for_date(FORTNIGHT, LA, date(2026, 11, 1))
    assert (f.start_local, f.end_local) == (date(2026, 10, 26), date(2026, 11, 9))
    assert f.end - f.start == timedelta(hours=14 * 24 + 1)
    # 42 weeks after the anchor: an even number, so 2026-10-26 opens a fortnight (index 21).
    assert f.index == 21 and (f.start_local - FORTNIGHT.anchor).days == 42 * 7
    # Next year the grid still runs from the anchor, not from 1 January.
    assert window_for_date(FORTNIGHT, LA, date(2027, 1, 1)).start_local == date(2026, 12, 21)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 10, 20, tzinfo=UTC))


def test_a_decision_on_the_edge_lands_in_the_right_digest(runtime: Runtime, clock: ManualClock) -> None:
    at_local(clock, "2026-11-01T23:59:59.999999")  # the last microsecond of the 169-hour week
    last = file(runtime, "mei", "reporting_format", {}, "last microsecond")
    at_local(clock, "2026-11-02T00:00")  # Monday 00:00 PST: the next week
    first = file(runtime, "mei", "reporting_format", {}, "first instant")
    at_local(clock, "2026-11-10T09:00")
    autumn = runtime.reviews.digest("weekly", date(2026, 10, 26))
    assert autumn.ends_at - autumn.starts_at == timedelta(hours=169)
    assert [d.id for s in autumn.sections for d in s.decisions] == [last]
    following = runtime.reviews.digest("weekly", date(2026, 11, 2))
    assert [d.id for s in following.sections for d in s.decisions] == [first]
    assert (following.comparison.previous_filed, following.comparison.change) == (1, 0)
