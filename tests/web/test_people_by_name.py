"""People on the pages by the names the policy gives them, the id on hover: readers saw "jon (nucleus)" and
"on behalf of tomas". The JSON API keeps the ids; a display name is text, never markup."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from api.app import create_app
from engine.runtime import Runtime, open_runtime
from engine.types import DelegationRequest, FilingRequest, VerdictRequest
from tests.support import DEFAULT_POLICY, ManualClock
from tests.web.conftest import Browser

INLINE = r"span|a|strong|time|code|em|b|i"


def text(page: str) -> str:
    """What a reader sees: inline elements run into their sentence, other tags break it, entities decoded."""
    page = re.sub(rf"</?(?:{INLINE})\b[^>]*>", "", page)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()


def between(page: str, start: str, end: str) -> str:
    """The page after `start`, up to `end`."""
    at = page.index(start) + len(start)
    return page[at : page.index(end, at)]


def test_every_page_names_people_as_the_policy_does(browser: Browser, runtime: Runtime) -> None:
    people = runtime.policies.current.people
    service = runtime.service
    now = service.clock()
    # Tomas (tech PM) is away: Mei holds his sign-off, so Jon's tier-2 filing waits on her too.
    away = DelegationRequest(
        delegate="mei", role="tech_pm", starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=3)
    )
    service.delegate(people["tomas"], away)
    d = service.file(
        people["jon"], FilingRequest(title="Swap the sampler", category="pipeline", attributes={"risk_score": 80})
    ).decision

    browser.sign_in("mei")
    inbox = browser.client.get("/inbox").text
    item = between(inbox, ">Swap the sampler</a>", "</li>")
    assert "Jon (researcher) of the nucleus squad · waiting" in text(item)
    assert "On behalf of Tomas (delegation)" in text(item)
    assert '<span title="jon">Jon (researcher)</span>' in item and '<span title="tomas">Tomas</span>' in item
    assert "jon (nucleus)" not in item and "of tomas" not in text(item)
    home = text(browser.client.get("/").text)
    assert "on behalf of Tomas (delegation)" in home and "on behalf of tomas" not in home

    approved = browser.submit("/inbox", f"/decisions/{d.id}/verdict", {"verdict": "approve", "back": "/inbox"})
    assert approved.status_code == 200 and "“Swap the sampler”: approved" in text(approved.text)

    page = browser.client.get(f"/decisions/{d.id}").text
    filed = text(between(page, "<dt>Filed by</dt>", "</dd>"))
    assert filed.startswith("Jon (researcher) of the nucleus squad, Mon 2 Mar")
    eligible = text(between(page, 'data-testid="eligible">', "</p>"))
    assert "Tomas" in eligible and "Priya" in eligible and "tomas" not in eligible and "priya" not in eligible
    sign_offs = text(between(page, "<h3>Sign-offs</h3>", "</ul>"))
    assert sign_offs == "Mei (ML engineer) (tech_pm) approved on behalf of Tomas"
    timeline = text(between(page, 'class="timeline">', "</ol>"))
    assert "decision filed by Jon (researcher)" in timeline
    assert "approval recorded by Mei (ML engineer)" in timeline
    assert not re.search(r"by (jon|mei|tomas)\b", timeline)
    assert '<span title="mei">Mei (ML engineer)</span>' in page and '<span title="jon">Jon (researcher)</span>' in page

    row = between(browser.client.get("/decisions").text, f'data-decision="{d.id}"', "</tr>")
    assert "Jon (researcher) of the nucleus squad" in text(row) and 'title="jon"' in row
    assert "jon (nucleus)" not in row

    # Delegations: who holds whose sign-off, by name; the revoke button's label is words, not markup.
    received = text(between(browser.client.get("/delegations").text, 'id="h-received">', "</section>"))
    assert received.startswith("Delegated to you tech_pm for Tomas, 2\u20135 Mar")
    browser.client.cookies.clear()
    browser.sign_in("tomas")
    granted = between(browser.client.get("/delegations").text, 'id="h-granted">', "</section>")
    assert text(granted).startswith(
        "You delegated To Sign-off Days (in America/Los_Angeles) Status Mei (ML engineer) tech_pm"
    )
    assert 'aria-label="Revoke tech_pm delegation to Mei (ML engineer), ' in granted

    # The API's JSON keeps the ids.
    api = browser.client.get(f"/v1/decisions/{d.id}", headers={"Authorization": f"Bearer {browser.tokens['tomas']}"})
    body = api.json()
    assert body["filed_by"] == "jon" and body["squad"] == "nucleus"
    assert [(a["approver"], a["on_behalf_of"]) for a in body["approvals"]] == [("mei", "tomas")]


HOSTILE = """<img src=x onerror=alert(1)> Mei & "co\""""
HOSTILE_PM = "Tomas <script>alert(2)</script>"
TWO_PMS = ("approvers: {role: tech_pm, count: 1,", "approvers: {role: tech_pm, count: 2,")


@pytest.fixture
def hostile_site(database_url: str, clock: ManualClock, tmp_path: Path) -> Iterator[tuple[Runtime, Browser]]:
    """The default policy with display names written by someone hostile, tier 2 needing both tech PMs (so an
    amendment can dismiss an approval) and escalating to a person."""
    policy = DEFAULT_POLICY.read_text().replace(*TWO_PMS)
    policy = policy.replace("display_name: Mei (ML engineer),", f"display_name: '{HOSTILE}',")
    policy = policy.replace("display_name: Tomas,", f"display_name: '{HOSTILE_PM}',")
    policy = policy.replace("remind: [50%, 90%], escalate_to: director}", "remind: [50%, 90%], escalate_to: dana}")
    path = tmp_path / "policies.yaml"
    path.write_text(policy)
    runtime = open_runtime(database_url, str(path), clock=clock)
    try:
        people = runtime.policies.current.people
        assert (people["mei"].display_name, people["tomas"].display_name) == (HOSTILE, HOSTILE_PM)
        tokens = {who: runtime.service.create_token(who) for who in ("mei", "tomas", "dana")}
        with TestClient(create_app(runtime), raise_server_exceptions=True) as client:
            yield runtime, Browser(client, tokens)
    finally:
        runtime.close()


def test_a_display_name_is_text_and_an_escalation_names_the_person(hostile_site: Any, clock: ManualClock) -> None:
    runtime, browser = hostile_site
    people = runtime.policies.current.people
    d = runtime.service.file(
        people["mei"],
        FilingRequest(title="Loosen the bound", category="quality_threshold", attributes={"deviation_pct": 3.5}),
    ).decision
    mei = '<span title="mei">&lt;img src=x onerror=alert(1)&gt; Mei &amp; &#34;co&#34;</span>'
    tomas = '<span title="tomas">Tomas &lt;script&gt;alert(2)&lt;/script&gt;</span>'
    browser.sign_in("tomas")
    for page in (browser.client.get("/inbox").text, browser.client.get(f"/decisions/{d.id}").text):
        assert mei in page and "<img" not in page
        assert f"{HOSTILE} of the nucleus squad" in text(page)
    listing = browser.client.get("/decisions").text
    assert mei in listing and "<img" not in listing

    runtime.service.decide(people["tomas"], d.id, VerdictRequest(verdict="approve", reason=None))
    page = browser.client.get(f"/decisions/{d.id}").text
    assert tomas in page and "<script>alert" not in page
    assert f"{HOSTILE_PM} (tech_pm) approved" in text(page) and f"by {HOSTILE_PM}" in text(page)

    # Mei's amendment would dismiss Tomas's approval: the preview says whose, as text.
    browser.client.cookies.clear()
    browser.sign_in("mei")
    preview = browser.submit(
        f"/decisions/{d.id}/amend",
        f"/decisions/{d.id}/amend/preview",
        {"title": "Loosen the bound", "attr.deviation_pct": "4.5"},
    ).text
    assert f"the approval of {HOSTILE_PM} will be dismissed" in text(preview)
    assert tomas in preview and "<script>alert" not in preview

    clock.advance(days=4)  # past the 3-day SLA, one approval short: tier 2 escalates to Dana, by name
    browser.client.cookies.clear()
    browser.sign_in("dana")
    item = between(browser.client.get("/inbox").text, ">Loosen the bound</a>", "</li>")
    assert "tier 2 (Tech PM sign-off) escalates to Dana" in text(item)
    assert 'escalates to <span title="dana">Dana</span>' in item
