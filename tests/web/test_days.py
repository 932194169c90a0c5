"""Spans of days in words (the delegations page and its revoke buttons)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from api.web.days import DASH, day_range

LA = ZoneInfo("America/Los_Angeles")


def _midnight(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=LA).astimezone(UTC)


@pytest.mark.parametrize(
    ("start", "end", "words"),
    [
        (_midnight(2026, 12, 3), _midnight(2026, 12, 11), "3-10 Dec"),  # until the 10th, included
        (_midnight(2026, 12, 3), _midnight(2026, 12, 4), "3 Dec"),
        (_midnight(2026, 11, 28), _midnight(2026, 12, 4), "28 Nov - 3 Dec"),
        (_midnight(2026, 12, 30), _midnight(2027, 1, 3), "30 Dec 2026 - 2 Jan 2027"),
        (datetime(2026, 12, 3, 15, tzinfo=UTC), datetime(2026, 12, 5, 22, tzinfo=UTC), "3-5 Dec"),  # API-given times
    ],
)
def test_day_range_in_the_policys_zone(start: datetime, end: datetime, words: str) -> None:
    assert day_range(start, end, LA) == words.replace("-", DASH)  # an en dash
