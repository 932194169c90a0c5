"""Spans of days in words, in the policy's time zone: "3-10 Dec", "28 Nov - 3 Dec", "30 Dec 2026 - 2 Jan 2027"
(each dash an en dash, the typographer's range sign)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

DASH = "\N{EN DASH}"


def last_day(ends_at: datetime, tz: ZoneInfo) -> datetime:
    """The last local day a span ending at `ends_at` (exclusive) covers: a delegation "until 10 Dec,
    included" ends at local midnight after it."""
    return (ends_at - timedelta(microseconds=1)).astimezone(tz)


def day_range(starts_at: datetime, ends_at: datetime, tz: ZoneInfo) -> str:
    """The local days from `starts_at` up to `ends_at` (exclusive), as few words as say them unambiguously."""
    first = starts_at.astimezone(tz)
    last = max(last_day(ends_at, tz), first)
    if first.date() == last.date():
        return f"{first.day} {first:%b}"
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}{DASH}{last.day} {last:%b}"
    if first.year == last.year:
        return f"{first.day} {first:%b} {DASH} {last.day} {last:%b}"
    return f"{first.day} {first:%b %Y} {DASH} {last.day} {last:%b %Y}"
