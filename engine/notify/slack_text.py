"""Slack-specific text helpers; the escaping itself is the project's one mrkdwn escaper (engine.text_safety)."""

from __future__ import annotations

import unicodedata

from engine.text_safety import mrkdwn

__all__ = ["excerpt", "mrkdwn"]


def excerpt(text: str, limit: int) -> str:
    """At most `limit` characters, control characters (bar newlines and tabs) dropped, an ellipsis if cut."""
    cleaned = "".join(c if c in "\n\t" or unicodedata.category(c)[0] != "C" else " " for c in text).strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1].rstrip() + "\u2026"
