"""Text from users, made safe for each channel it reaches. One function per destination.

Users write titles, categories, rationales and comments; the service repeats them in Slack
messages, webhook and e-mail text, Markdown digests and spreadsheets. In each of those some
characters are syntax. These functions make user text render as the same words, never as
markup: no Slack mention or link, no Markdown heading, list, link, image or HTML, no formula.
(HTML pages escape through Jinja's autoescape; JSON is data and needs nothing.)
"""

from __future__ import annotations

import re
from typing import Any

#: Line breaks of every kind, and the other C0/C1 controls: one line of text in every channel.
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
#: ASCII punctuation that means something somewhere in Markdown (CommonMark lets any of it be
#: backslash-escaped). `.` and `:` too, so a renderer that links bare URLs finds none.
_MARKDOWN_SYNTAX = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&:=\"'])")
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*)://")


def one_line(text: str) -> str:
    """Line breaks and control characters become single spaces; surrounding space goes."""
    return _BREAKS.sub(" ", text).strip()


def mrkdwn(text: str) -> str:
    """Slack mrkdwn: `&`, `<`, `>` escaped as Slack requires, so user text never forms `<!channel>`,
    `<!here>`, `<@U...>` or `<url|label>` (every control sequence of Slack starts with `<`)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def markdown_inline(text: str) -> str:
    """Markdown (CommonMark, GFM): one line whose every syntax character is backslash-escaped.

    Wherever it is placed (a table cell, a list item, the start of a line) it renders as its own
    words: never a heading, list, quote, code, link, autolink, image, emphasis, table cell or HTML.
    """
    return _MARKDOWN_SYNTAX.sub(r"\\\1", one_line(text))


def plain_text(text: str) -> str:
    """Plain text that mail clients and chat tools auto-link (e-mail bodies, webhook `text`):
    one line, and URLs defanged (`https[:]//`) so a title cannot become a clickable link."""
    return _SCHEME.sub(r"\1[:]//", one_line(text))


def csv_cell(value: Any) -> str:
    """A cell a spreadsheet shows as text: formula-looking cells are prefixed with a quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text
