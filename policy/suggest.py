"""Fix-it wording shared by every check: "did you mean ...?" for misspelt names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: str, choices: Iterable[str]) -> str | None:
    """The most similar choice; a shortened name ("risk" for "risk_score") counts as similar too."""
    options = sorted(set(choices))
    matches = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    if matches:
        return matches[0]
    prefixed = [o for o in options if len(name) >= 3 and (o.startswith(name) or name.startswith(o))]
    return prefixed[0] if len(prefixed) == 1 else None


def did_you_mean(name: object, choices: Iterable[str], *, what: str = "one of") -> str:
    """A hint naming the closest valid choice, or listing them when nothing is close."""
    options = sorted(set(choices))
    guess = closest(str(name), options)
    if guess is not None:
        return f"did you mean '{guess}'?"
    if not options:
        return "there is nothing of that kind declared"
    listed = ", ".join(f"'{o}'" for o in options[:12]) + (", ..." if len(options) > 12 else "")
    return f"use {what}: {listed}"
