"""Durations written the short way in the policy: "3d", "36h", "90m", "2w", or combined ("1d12h")."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"([0-9]+)([wdhms])")
_WHOLE = re.compile(r"^(?:[0-9]+[wdhms])+$")
_UNIT = {
    "w": timedelta(weeks=1),
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
    "s": timedelta(seconds=1),
}

DURATION_HINT = "write a number followed by w, d, h or m, e.g. 3d, 36h, 90m or 2w"


def parse_duration(text: str) -> timedelta:
    """The duration `text` stands for; ValueError when it is not one, or is zero."""
    if not _WHOLE.match(text):
        raise ValueError(f"'{text}' is not a duration")
    total = sum((int(n) * _UNIT[unit] for n, unit in _PART.findall(text)), timedelta())
    if total <= timedelta():
        raise ValueError(f"'{text}' is zero; a duration must be positive")
    return total
