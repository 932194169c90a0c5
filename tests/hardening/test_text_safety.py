"""The escapers of engine.text_safety, checked against real renderers' parse trees."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from engine.text_safety import csv_cell, markdown_inline, mrkdwn, plain_text

ATTACKS = [
    "zz|injected cell\n\n## APPROVED BY DIRECTOR <img src=x onerror=alert(1)>",
    "# heading",
    "- item",
    "1. item",
    "> quote",
    "    indented code",
    "[click](https://evil.example)",
    "![img](https://evil.example/x.png)",
    "<https://evil.example>",
    "https://evil.example/login",
    "www.evil.example",
    "<b>bold</b>",
    "`code`",
    "&lt;script&gt;",
    "***",
    "a\n===",
    "| a | b |",
]

# CommonMark plus GFM tables and strikethrough; `linkify` when the optional linkify-it-py is present.
_md = MarkdownIt("commonmark").enable(["table", "strikethrough"])
_INLINE_OK = {"text", "text_special", "softbreak"}


def _only_text(markdown: str) -> None:
    tokens = _md.parse(markdown)
    kinds = [t.type for t in tokens]
    assert kinds == ["paragraph_open", "inline", "paragraph_close"], (markdown, kinds)
    children = tokens[1].children or []
    assert {c.type for c in children} <= _INLINE_OK, (markdown, [c.type for c in children])


def _shown(markdown: str) -> str:
    return "".join(c.content for c in (_md.parse(markdown)[1].children or []))


def test_markdown_attacks_render_as_their_own_words() -> None:
    for text in ATTACKS:
        escaped = markdown_inline(text)
        _only_text(escaped)  # at the start of a line
        _only_text("x " + escaped)  # inside one
        assert _shown(escaped) == " ".join(text.split()), text


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1))
def test_any_text_is_one_paragraph_of_plain_text(text: str) -> None:
    escaped = markdown_inline(text)
    if escaped:
        _only_text(escaped)


def test_mrkdwn_never_forms_a_slack_control_sequence() -> None:
    for text in ("<!channel>", "<!here>", "<@U123ABC>", "<https://evil.example/login|Open the decision>", "a & b"):
        escaped = mrkdwn(text)
        assert "<" not in escaped and ">" not in escaped
        assert escaped.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == text


def test_plain_text_is_one_line_without_live_urls() -> None:
    out = plain_text("see https://evil.example/login\r\nSubject: x\n\nbody")
    assert "\n" not in out and "\r" not in out and "https://" not in out and "evil.example/login" in out


def test_csv_cell_keeps_formulas_as_text() -> None:
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and csv_cell("@SUM") == "'@SUM" and csv_cell("ok") == "ok"
