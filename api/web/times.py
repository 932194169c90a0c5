"""Instants in words, in the policy's time zone: "Tue 1 Dec 14:00 CET", the year too when it is not this one
("Wed 30 Dec 2026 09:15 PST"), inside a <time> element whose datetime attribute is the UTC instant."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from markupsafe import Markup


def zone_name(local: datetime) -> str:
    """The zone's abbreviation at that instant ("CET", "PDT"); zones without one give "UTC-03", not a bare "-03"."""
    name = local.strftime("%Z")
    return f"UTC{name}" if name[:1] in "+-" else name


def local_words(moment: datetime, tz: ZoneInfo, now: datetime | None = None) -> str:
    """`moment` on the local wall clock, with the offset in force then (so across a DST change each side
    reads in its own abbreviation); the year only when it is not `now`'s local year."""
    local = moment.astimezone(tz)
    same_year = now is not None and now.astimezone(tz).year == local.year
    day = f"{local:%a} {local.day} {local:%b}" + ("" if same_year else f" {local.year}")
    return f"{day} {local:%H:%M} {zone_name(local)}"


def utc_instant(moment: datetime) -> str:
    """The instant as a valid HTML global date and time: `2026-12-01T13:00:00Z` (whole seconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def time_element(moment: datetime | None, tz: ZoneInfo, now: datetime | None = None) -> Markup:
    """`<time datetime="(UTC)">(local words)</time>`; empty for no instant."""
    if moment is None:
        return Markup("")
    return Markup('<time datetime="{}">{}</time>').format(utc_instant(moment), local_words(moment, tz, now))
