"""User text reaches Slack, webhooks, e-mail and Markdown digests escaped; one message per event per channel."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import pytest
from markdown_it import MarkdownIt

from engine.notify.config import NotifyConfig
from engine.notify.delivery import deliver_due
from engine.notify.outbox import enqueue_digest
from engine.review.render import digest_markdown
from engine.runtime import Runtime, open_runtime
from engine.text_safety import plain_text
from engine.types import FilingRequest
from tests.notify.mail import Html, parsed, parts
from tests.notify.receivers import http_receiver, smtp_receiver
from tests.support import DEFAULT_POLICY, ManualClock, markdown_table_rows

EVIL_TITLE = "<!channel> <https://evil.example/login|Open the decision>"
# (Line breaks in a category are refused at filing now; the digest escapes text stored before that too.)
EVIL_CATEGORY = "zz|injected cell ## APPROVED BY DIRECTOR <img src=x onerror=alert(1)>"
TIER2 = {"category": "quality_threshold", "attributes": {"deviation_pct": 3.0}}


@pytest.fixture
def notified(database_url: str, clock: ManualClock) -> Iterator[tuple[Runtime, object, object, object]]:
    with http_receiver() as hook, http_receiver() as slack, smtp_receiver() as smtp:
        config = NotifyConfig(webhook_url=hook.url, slack_url=slack.url, smtp_host="127.0.0.1", smtp_port=smtp.port)
        rt = open_runtime(database_url, str(DEFAULT_POLICY), clock=clock, notify=config)
        try:
            yield rt, hook, slack, smtp
        finally:
            rt.close()


def _slack_sequences(text: str) -> list[str]:
    return re.findall(r"<[^>]*>", text)


def test_a_hostile_title_is_escaped_in_every_channel(notified, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    rt, hook, slack, smtp = notified
    d = rt.service.file(rt.policies.current.people["mei"], FilingRequest(title=EVIL_TITLE, **TIER2)).decision
    deliver_due(rt.service.engine, rt.notify, clock())
    [message] = slack.requests  # one filing, one Slack message (two tech PMs are on its route)
    block_text = message["body"]["blocks"][0]["text"]["text"]
    # The only Slack control sequence is our own link to the decision.
    assert _slack_sequences(block_text) == [f"<{rt.notify.base_url}/decisions/{d.id}|Open the decision>"]
    assert _slack_sequences(message["body"]["text"]) == []
    assert "&lt;!channel&gt;" in block_text
    [posted] = hook.requests
    assert posted["body"]["title"] == EVIL_TITLE  # JSON carries the data as it is
    assert "https://evil" not in posted["body"]["text"] and "<!channel>" in posted["body"]["text"]
    assert len(smtp.messages) == 2 and all("https://evil" not in m["text"] for m in smtp.messages)


def test_one_message_per_event_per_shared_channel(notified, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    rt, hook, slack, smtp = notified
    rt.service.file(rt.policies.current.people["mei"], FilingRequest(title="t", **TIER2))
    deliver_due(rt.service.engine, rt.notify, clock())
    assert len(slack.requests) == 1 and len(hook.requests) == 1
    assert hook.requests[0]["body"]["recipients"] == ["priya", "tomas"]
    assert sorted(m["to"] for m in smtp.messages) == ["priya@example.com", "tomas@example.com"]


def test_the_digest_goes_to_slack_once_as_a_block_kit_summary_with_a_link(notified, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    rt, hook, slack, smtp = notified
    rt.service.file(rt.policies.current.people["mei"], FilingRequest(title=EVIL_TITLE, **TIER2))
    built = rt.reviews.digest("weekly", clock().date())
    policy = rt.policies.current
    recipients = ["dana", "priya", "tomas"]
    words = rt.reviews.policy_of(built)
    enqueue_digest(rt.service.engine, policy, rt.notify, built, "weekly", recipients, clock(), words=words)
    deliver_due(rt.service.engine, rt.notify, clock())
    digests = [r["body"] for r in slack.requests if "blocks" in r["body"] and r["body"]["text"].startswith("Review")]
    assert len(digests) == 1
    blocks = digests[0]["blocks"]
    assert blocks[0]["type"] == "header"
    link = f"{rt.notify.base_url}/digests/weekly?date={built.window_start.isoformat()}"
    assert f"<{link}|Open the full digest>" in blocks[-1]["text"]["text"]
    assert "|---|" not in str(blocks) and "evil" not in str(blocks)  # a summary, not the Markdown table
    webhook = [r["body"] for r in hook.requests if r["body"]["kind"] == "digest"]
    assert len(webhook) == 1 and webhook[0]["recipients"] == recipients
    assert len([m for m in smtp.messages if "Review digest" in m["text"]]) == 3


#: A title that would be markup, a script, a link and a broken table in HTML if it were not escaped.
EVIL_HTML_TITLE = (
    "</td></tr></table><script>alert(1)</script><img src=x onerror=alert(1)> "
    '<a href="https://evil.example/login">Sign in</a> & co'
)


def test_a_hostile_title_stays_text_in_the_digest_mails_html(notified, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    rt, hook, slack, smtp = notified
    mei = rt.policies.current.people["mei"]
    titled = rt.service.file(mei, FilingRequest(title=EVIL_HTML_TITLE, **TIER2)).decision
    odd = rt.service.file(mei, FilingRequest(title="odd one", category=EVIL_CATEGORY[:100])).decision
    built = rt.reviews.digest("weekly", clock().date())
    words = rt.reviews.policy_of(built)
    enqueue_digest(rt.service.engine, words, rt.notify, built, "weekly", ["dana"], clock(), words=words)
    deliver_due(rt.service.engine, rt.notify, clock())
    [message] = [m for m in (parsed(r) for r in smtp.messages) if str(m["Subject"]).startswith("Review digest")]
    plain, html = parts(message)
    link = f"{rt.notify.base_url}/digests/weekly?date={built.window_start.isoformat()}"
    assert plain == f"{digest_markdown(built, words)}\n\n{link}\n"  # the text part, as it always was
    assert html is not None
    doc = Html.of(html)
    # No element, attribute or link of the title's: only the digest's own, each to the service.
    assert not doc.tags("script") and not doc.tags("img")
    assert not [a for _, a in doc.elements if "src" in a or any(k.startswith("on") for k in a)]
    assert all(str(a["href"]).startswith(f"{rt.notify.base_url}/") for a in doc.tags("a"))
    assert "https://evil" not in html  # not even as text: mail programs link bare URLs in HTML too
    # The reader sees the title as it was written (its URL defanged, as in every e-mail), in its own cell.
    assert doc.rows[titled.id][0] == plain_text(EVIL_HTML_TITLE)
    assert len(doc.rows[titled.id]) == 7 and len(doc.rows[odd.id]) == 7
    assert doc.rows[odd.id][1] == " ".join(EVIL_CATEGORY[:100].split())
    # Only the e-mail carries the HTML: the webhook's JSON and Slack's summary are as they were.
    assert not [r for r in hook.requests if "html" in r["body"]]
    assert "evil" not in str([r["body"] for r in slack.requests if r["body"]["text"].startswith("Review")])


def test_the_documented_slack_variable_is_the_one_read() -> None:
    assert (
        NotifyConfig.from_env({"DECISIONS_SLACK_URL": "https://hooks.example/x"}).slack_url == "https://hooks.example/x"
    )
    assert NotifyConfig.from_env({"DECISIONS_SLACK_WEBHOOK_URL": "https://hooks.example/x"}).slack_url is None


_md = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def test_the_markdown_digest_never_lets_user_text_become_markup(runtime: Runtime, clock: ManualClock) -> None:
    mei = runtime.policies.current.people["mei"]
    runtime.service.file(
        mei, FilingRequest(title="# Approved [click](https://evil.example) <b>x</b>", category=EVIL_CATEGORY[:100])
    )
    markdown = digest_markdown(runtime.reviews.digest("weekly", clock().date()))
    tokens = _md.parse(markdown)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert not any("APPROVED" in h or "Approved" in h for h in headings), headings
    kinds = {t.type for t in tokens} | {c.type for t in tokens for c in (t.children or [])}
    assert not kinds & {"html_block", "html_inline", "link_open", "image"}, kinds
    assert "UNKNOWN CATEGORY" in markdown  # flagged
    # The table keeps its eight columns: the `|` in the category did not open a cell.
    rows = list(markdown_table_rows(tokens))
    ours = [r for r in rows if any("zz" in c for c in r)]
    assert ours and all(len(r) == 8 and " ".join(EVIL_CATEGORY[:100].split()) in r for r in ours)


def test_unknown_categories_are_flagged_in_the_inbox_the_page_and_the_digest(
    runtime: Runtime, clock: ManualClock
) -> None:
    from litestar.testing import TestClient

    from api.app import create_app
    from tests.web.conftest import Browser

    mei = runtime.policies.current.people["mei"]
    d = runtime.service.file(mei, FilingRequest(title="odd one", category="xylophone_budget")).decision
    tokens = {"dana": runtime.service.create_token("dana")}
    with TestClient(create_app(runtime)) as client:
        browser = Browser(client, tokens)
        browser.sign_in("dana")
        inbox = client.get("/inbox").text
        assert 'data-flag="unknown-category"' in inbox
        assert 'data-flag="unknown-category"' in client.get(f"/decisions/{d.id}").text
        digest_html = client.get(f"/digests/weekly?date={date.isoformat(clock().date())}").text
        assert "unknown category" in digest_html
    assert runtime.reviews.digest("weekly", clock().date()).sections  # JSON carries the flag too
    assert any(
        x.unknown_category for s in runtime.reviews.digest("weekly", clock().date()).sections for x in s.decisions
    )
