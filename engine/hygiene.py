"""What every request body must be, whichever door it came in by (API, web form, command line).

PostgreSQL text cannot hold NUL and SQLite can: refusing control characters here makes both
backends answer alike. Titles are shown to approvers, so they may not hide what they say (bidi
overrides, zero-width characters) or be blank. Integers must fit the 64 bits every store and
client can hold. Each failure names its field, as `field `a.b`` (the API turns it into `$.a.b`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import msgspec

#: C0 and C1 controls except tab, line feed and carriage return (free text may have lines).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
#: One-line fields (titles, names, categories) refuse line breaks and tabs as well.
_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: Characters that make text display as something other than what it is: bidi embeddings,
#: overrides, isolates and marks; zero-width spaces and joiners; the BOM.
_DISGUISE = re.compile(r"[\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: The span of instants every backend and every client library stores (years 1 to 9999 in UTC, with a
#: day's margin at each end so no time-zone offset overflows).
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def _control_name(ch: str) -> str:
    return f"U+{ord(ch):04X}"


def _walk(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        bad = _CONTROL.search(value)
        if bad:
            yield path, f"contains the control character {_control_name(bad.group())}"
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            yield path, "is an integer beyond 64 bits"
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and _LINE_CONTROL.search(key):
                yield f"{path}.{key.encode('unicode_escape').decode()}", "the key contains a control character"
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def problems(
    body: msgspec.Struct,
    one_line: tuple[str, ...] = (),
    not_blank: tuple[str, ...] = (),
    undisguised: tuple[str, ...] = (),
) -> Iterator[tuple[str, str]]:
    """(field path, what is wrong) for every field of `body` that breaks the rules above."""
    for name in body.__struct_fields__:
        value = getattr(body, name)
        if value is None:
            continue
        if isinstance(value, str):
            if name in one_line and (bad := _LINE_CONTROL.search(value)):
                yield name, f"contains the control character {_control_name(bad.group())}; it must be one line"
                continue
            if name in not_blank and not value.strip():
                yield name, "must not be blank"
                continue
            if name in undisguised and (bad := _DISGUISE.search(value)):
                yield name, f"contains {_control_name(bad.group())}, which would make it display as something else"
                continue
        yield from _walk(value, name)


def check(body: msgspec.Struct, **rules: tuple[str, ...]) -> None:
    """Raise ValueError naming the first offending field (msgspec reports it as a ValidationError)."""
    for path, message in problems(body, **rules):
        raise ValueError(f"field `{path}` {message}")


def instant(name: str, value: datetime) -> datetime:
    """An aware instant inside the span every backend holds, as UTC; ValueError naming `name` otherwise."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"field `{name}` needs a time zone offset (e.g. 2026-01-01T00:00:00Z)")
    out_of_range = ValueError(f"field `{name}` is out of range (0001-01-02 to 9999-12-30, UTC)")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise out_of_range from None
    if not EARLIEST <= utc <= LATEST:
        raise out_of_range
    return utc
