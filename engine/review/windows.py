"""Review windows: `every` days long, starting at local midnight of the cadence's anchor.

Edges are computed in local wall time and converted to UTC one by one, so a week that
contains a DST change is 167 or 169 hours long and still starts at Monday 00:00 local.
Windows are half-open: [start, end).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from policy.compiled import Cadence


@dataclass(frozen=True, slots=True)
class Window:
    cadence: str
    #: Windows since the anchor (negative before it); a fortnight's parity is index % 2 on a 1-week cadence.
    index: int
    start_local: date
    #: Exclusive: the first local day of the next window.
    end_local: date
    start: datetime
    end: datetime

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    @property
    def label(self) -> str:
        last = self.end_local - timedelta(days=1)
        return f"{self.cadence} {self.start_local.isoformat()}..{last.isoformat()}"


def _days(cadence: Cadence) -> int:
    if cadence.every <= timedelta(0) or cadence.every % timedelta(days=1):
        raise ValueError(f"review cadence {cadence.name} must last a whole number of days")
    return cadence.every.days


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    # Midnight exists in every zone the policy can name except on rare historic switches; fold=0 picks
    # the first occurrence, and astimezone() normalises a non-existent wall time forward.
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def window_by_index(cadence: Cadence, tz: ZoneInfo, index: int) -> Window:
    days = _days(cadence)
    start_local = cadence.anchor + timedelta(days=index * days)
    end_local = start_local + timedelta(days=days)
    return Window(
        cadence=cadence.name,
        index=index,
        start_local=start_local,
        end_local=end_local,
        start=local_midnight(start_local, tz),
        end=local_midnight(end_local, tz),
    )


def window_for_date(cadence: Cadence, tz: ZoneInfo, day: date) -> Window:
    """The window containing the local calendar day `day`."""
    return window_by_index(cadence, tz, (day - cadence.anchor).days // _days(cadence))


def window_at(cadence: Cadence, tz: ZoneInfo, moment: datetime) -> Window:
    """The window containing an instant (aware datetime)."""
    if moment.tzinfo is None:
        raise ValueError("window_at needs an aware datetime")
    return window_for_date(cadence, tz, moment.astimezone(tz).date())


def previous(cadence: Cadence, tz: ZoneInfo, window: Window) -> Window:
    return window_by_index(cadence, tz, window.index - 1)


def following(cadence: Cadence, tz: ZoneInfo, window: Window) -> Window:
    return window_by_index(cadence, tz, window.index + 1)


# -- calendar periods for metrics ----------------------------------------------------------------

PERIODS = ("week", "month", "quarter")


@dataclass(frozen=True, slots=True)
class Period:
    kind: str
    start_local: date
    end_local: date
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        if self.kind == "quarter":
            return f"{self.start_local.year}-Q{(self.start_local.month - 1) // 3 + 1}"
        if self.kind == "month":
            return f"{self.start_local.year}-{self.start_local.month:02d}"
        iso = self.start_local.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"


def period_for_date(kind: str, tz: ZoneInfo, day: date) -> Period:
    if kind == "week":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    elif kind == "month":
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
    elif kind == "quarter":
        start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        end = (start + timedelta(days=93)).replace(day=1)
    else:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    return Period(kind, start, end, local_midnight(start, tz), local_midnight(end, tz))


def period_before(period: Period, tz: ZoneInfo) -> Period:
    return period_for_date(period.kind, tz, period.start_local - timedelta(days=1))
