"""Text from users, made safe for Slack's mrkdwn (until a project-wide escaper exists).

Slack reads `<...>` as a control sequence (`<!channel>`, `<@U123>`, `<https://x|label>`) and
`&` as the start of an entity; escaping these three is what Slack documents. Formatting
characters (`*`, `_`, `~`, backticks) can only restyle the text itself, never ping or link.
"""

from __future__ import annotations

import unicodedata


def mrkdwn(text: str) -> str:
    """`text` as literal characters in a mrkdwn field."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def excerpt(text: str, limit: int) -> str:
    """At most `limit` characters of one paragraph-ish excerpt, control characters dropped, ellipsis if cut."""
    cleaned = "".join(c if c in "\n\t" or unicodedata.category(c)[0] != "C" else " " for c in text).strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1].rstrip() + "\u2026"
