"""Every lifecycle step in the web: amend (previewed by the rules, with the approvals it would dismiss),
supersede from the old decision's page, and delegations granted, listed and revoked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from api.app import create_app
from api.web.days import DASH
from engine.runtime import open_runtime
from engine.types import FilingRequest, VerdictRequest
from tests.support import DEFAULT_POLICY, ManualClock
from tests.web.conftest import Browser

ID = re.compile(r"/decisions/(D[0-9A-Za-z-]+)")


def _file(browser: Any, category: str, title: str, supersedes: str = "", **attributes: str) -> str:
    form = {"category": category, "title": title, "action": "file", **{f"attr.{k}": v for k, v in attributes.items()}}
    if supersedes:
        form["supersedes"] = supersedes  # the hidden field of the form opened from the old decision
    page = browser.submit(f"/new?category={category}&supersedes={supersedes}", "/new", form)
    assert page.status_code == 200, page.text[:300]
    found = ID.search(str(page.url))
    assert found, page.url
    return found.group(1)


def test_amend_previews_the_new_tier_and_warns_before_dismissing_approvals(browser: Any, runtime: Any) -> None:
    people = runtime.policies.current.people
    filed = runtime.service.file(
        people["mei"], FilingRequest(title="Two PMs", category="contract", attributes={"change": "term"})
    ).decision
    browser.sign_in("mei")
    page = browser.client.get(f"/decisions/{filed.id}")
    assert f'href="/decisions/{filed.id}/amend"' in page.text
    form = browser.client.get(f"/decisions/{filed.id}/amend").text
    assert "What changes in the contract" in form
    # An approval is given, then the filer previews a change of what was approved.
    runtime.service.file(people["mei"], FilingRequest(title="x", category="reporting_format", attributes={}))
    preview = browser.submit(
        f"/decisions/{filed.id}/amend",
        f"/decisions/{filed.id}/amend",
        {"title": "Two PMs", "attr.change": "pricing", "reason": "pricing too", "action": "preview"},
    )
    assert preview.status_code == 200 and "Tier 3</span> <strong>Director" in preview.text
    assert preview.headers["content-type"].startswith("text/html")  # a page a browser renders, not JSON
    assert runtime.service.get(filed.id).attributes == {"change": "term"}  # a preview writes nothing
    done = browser.submit(
        f"/decisions/{filed.id}/amend",
        f"/decisions/{filed.id}/amend",
        {"title": "Two PMs", "attr.change": "pricing", "reason": "pricing too", "action": "amend"},
    )
    assert done.status_code == 200 and "amended" in done.text
    assert runtime.service.get(filed.id).attributes == {"change": "pricing"}


def test_amend_preview_shows_a_tier_change_and_refuses_another_persons_amendment(browser: Any, runtime: Any) -> None:
    people = runtime.policies.current.people
    filed = runtime.service.file(
        people["mei"], FilingRequest(title="PM", category="pipeline", attributes={"risk_score": 50})
    ).decision
    browser.sign_in("mei")
    preview = browser.submit(
        f"/decisions/{filed.id}/amend",
        f"/decisions/{filed.id}/amend",
        {"title": "PM", "attr.risk_score": "10", "action": "preview"},
    )
    assert "Squad" in preview.text and "(was tier 2)" in preview.text
    # Another person's amendment is refused by the rules, on the page.
    browser.sign_in("jon")
    refused = browser.submit(
        f"/decisions/{filed.id}/amend",
        f"/decisions/{filed.id}/amend",
        {"title": "PM", "attr.risk_score": "10", "action": "amend"},
    )
    assert refused.status_code == 403 and "only the filer" in refused.text


def test_supersede_from_the_old_decisions_page(browser: Any, runtime: Any) -> None:
    people = runtime.policies.current.people
    old = runtime.service.file(
        people["mei"], FilingRequest(title="Old bound", category="quality_threshold", attributes={"deviation_pct": 3})
    ).decision
    runtime.service.decide(people["tomas"], old.id, VerdictRequest(verdict="approve", reason="ok"))
    browser.sign_in("mei")
    page = browser.client.get(f"/decisions/{old.id}").text
    assert f"supersedes={old.id}" in page
    form = browser.client.get(f"/new?category=quality_threshold&supersedes={old.id}").text
    assert f'name="supersedes" value="{old.id}"' in form
    new_id = _file(browser, "quality_threshold", "New bound", supersedes=old.id, deviation_pct="1")
    new = runtime.service.get(new_id)
    assert new.supersedes == old.id and new.tier == 2  # raised to the old decision's tier
    runtime.service.decide(people["tomas"], new_id, VerdictRequest(verdict="approve", reason="ok"))
    assert runtime.service.get(old.id).status == "superseded"


MAR_2_6 = f"2{DASH}6 Mar"


def test_delegations_are_granted_listed_and_revoked_in_the_web(browser: Any, runtime: Any) -> None:
    browser.sign_in("priya")
    page = browser.client.get("/delegations")
    assert page.status_code == 200 and "Away? Let someone sign off for you" in page.text
    granted = browser.submit(
        "/delegations",
        "/delegations",
        {"delegate": "tomas", "role": "tech_pm", "from": "2026-03-02", "until": "2026-03-06"},
    )
    assert granted.status_code == 200 and f"Tomas may sign off as tech_pm for you, {MAR_2_6}" in granted.text
    # The revoke button names what it revokes (its accessible name), and the list shows the days.
    assert f'aria-label="Revoke tech_pm delegation to Tomas, {MAR_2_6}">Revoke</button>' in granted.text
    [grant] = [d for d in runtime.service.delegations(runtime.policies.current.people["priya"]) if not d.revoked]
    assert grant.ends_at.isoformat().startswith("2026-03-07T08:00")  # local midnight after the last day, in UTC
    bad = browser.submit(
        "/delegations", "/delegations", {"delegate": "tomas", "role": "tech_pm", "from": "x", "until": ""}
    )
    assert "YYYY-MM-DD" in bad.text
    revoked = browser.submit("/delegations", f"/delegations/{grant.id}/revoke", {})
    assert revoked.status_code == 200 and f"Revoked: tech_pm delegation to Tomas, {MAR_2_6}" in revoked.text
    assert 'aria-label="Revoke' not in revoked.text
    browser.sign_in("tomas")
    received = browser.client.get("/delegations").text
    assert f'tech_pm for <span title="priya">Priya</span>, {MAR_2_6} (revoked)' in received


def test_amend_preview_warns_which_approvals_will_be_dismissed(database_url: str, tmp_path: Path) -> None:
    text = DEFAULT_POLICY.read_text().replace(
        "approvers: {role: tech_pm, count: 1,", "approvers: {role: tech_pm, count: 2,"
    )
    path = tmp_path / "policies.yaml"
    path.write_text(text)
    rt = open_runtime(database_url, str(path), clock=ManualClock())
    try:
        people = rt.policies.current.people
        filed = rt.service.file(
            people["mei"], FilingRequest(title="PM", category="pipeline", attributes={"risk_score": 50})
        ).decision
        rt.service.decide(people["tomas"], filed.id, VerdictRequest(verdict="approve", reason="ok"))
        tokens = {"mei": rt.service.create_token("mei")}
        with TestClient(create_app(rt), raise_server_exceptions=True) as client:
            browser = Browser(client, tokens)
            browser.sign_in("mei")
            preview = browser.submit(
                f"/decisions/{filed.id}/amend",
                f"/decisions/{filed.id}/amend",
                {"title": "PM", "attr.risk_score": "60", "action": "preview"},
            )
            assert 'the approval of <span title="tomas">Tomas</span> will be dismissed' in preview.text
            same = browser.submit(
                f"/decisions/{filed.id}/amend",
                f"/decisions/{filed.id}/amend",
                {"title": "PM", "attr.risk_score": "50", "action": "preview"},
            )
            assert "will be dismissed" not in same.text
            assert 'Kept: the approval of <span title="tomas">Tomas</span>' in same.text
            # The live preview (what the form posts as you type): the preview alone, not the page.
            live = browser.submit(
                f"/decisions/{filed.id}/amend",
                f"/decisions/{filed.id}/amend/preview",
                {"title": "PM", "attr.risk_score": "60"},
            )
            assert live.status_code == 200 and live.headers["content-type"].startswith("text/html")
            assert 'the approval of <span title="tomas">Tomas</span> will be dismissed' in live.text
            assert "<form" not in live.text
            assert rt.service.get(filed.id).attributes == {"risk_score": 50}  # a preview writes nothing
            bad = browser.submit(
                f"/decisions/{filed.id}/amend", f"/decisions/{filed.id}/amend/preview", {"attr.risk_score": "lots"}
            )
            assert bad.status_code == 200 and 'class="error"' in bad.text
    finally:
        rt.close()


def test_the_decision_page_offers_what_the_rules_would_take(browser: Any, runtime: Any) -> None:
    """Each button is the rules' answer for the person reading (lifecycle.offered_steps), not the page's guess."""
    people = runtime.policies.current.people
    resolved = runtime.service.file(
        people["mei"], FilingRequest(title="Squad format", category="reporting_format", attributes={})
    ).decision
    pending = runtime.service.file(
        people["mei"], FilingRequest(title="Sampler", category="pipeline", attributes={"risk_score": 80})
    ).decision
    supersede = f"supersedes={resolved.id}"
    browser.sign_in("jon")  # mei's squad: may replace a squad-resolved decision
    assert supersede in browser.client.get(f"/decisions/{resolved.id}").text
    page = browser.client.get(f"/decisions/{pending.id}").text
    assert "/withdraw" not in page and "/amend" not in page and "/proceed" not in page and "/comment" in page
    browser.sign_in("ravi")  # another squad: may not
    assert supersede not in browser.client.get(f"/decisions/{resolved.id}").text
    browser.sign_in("mei")
    page = browser.client.get(f"/decisions/{pending.id}").text
    assert all(f"/decisions/{pending.id}/{step}" in page for step in ("withdraw", "amend", "proceed", "comment"))
    assert 'value="approve"' not in page
    # A superseding filing names what it replaces by its title.
    form = browser.client.get(f"/new?category=reporting_format&supersedes={resolved.id}").text
    assert f'<a href="/decisions/{resolved.id}">Squad format</a>' in form
    browser.sign_in("ann")  # the auditor reads
    page = browser.client.get(f"/decisions/{pending.id}").text
    assert "/comment" not in page and "/withdraw" not in page
