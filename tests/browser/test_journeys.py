"""Real-browser journeys: Playwright drives Debian's Chromium against `decisions serve` on 127.0.0.1.

Screenshots of each page land in artifacts/screenshots/ (ARTIFACTS_DIR to move them)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from tests.browser.conftest import Server, shot
from tests.browser.conftest import sign_in as _sign_in

pytestmark = pytest.mark.browser


def test_file_approve_audit_digest(server: Server, chromium: Any) -> None:
    # A squad member files a tier-3 decision through the form and sees the predicted tier first.
    mei = _sign_in(chromium, server, "mei")
    shot(mei, "01-inbox-squad-member")
    mei.goto("/new")
    mei.get_by_label("Category", exact=True).select_option("contract")
    mei.wait_for_url("**/new?category=contract")
    mei.get_by_label("Title", exact=True).fill("Sign the Q3 annotation contract with Acme")
    mei.get_by_label("What changes in the contract", exact=True).select_option("scope")
    preview = mei.get_by_test_id("predicted-tier")
    preview.wait_for()
    assert preview.inner_text().startswith("Tier 3")
    assert "Routed to director: Dana" in mei.locator("#preview").inner_text()  # by name; the id on hover
    assert mei.locator('#preview span[title="dana"]').inner_text() == "Dana"
    shot(mei, "02-filing-form-with-preview")
    mei.get_by_role("button", name="File the decision").click()
    mei.wait_for_url("**/decisions/D*")
    decision_url = mei.url
    decision_id = decision_url.rsplit("/", 1)[1].split("?")[0]
    assert "pending" in mei.locator("main").inner_text()
    # The filer sees no approve button, and a forged POST is refused by the server.
    assert mei.get_by_role("button", name="Approve").count() == 0
    csrf = mei.locator('input[name="_csrf_token"]').first.get_attribute("value")
    status = mei.evaluate(
        """async ([id, csrf]) => {
            const body = new URLSearchParams({verdict: "approve", _csrf_token: csrf});
            const r = await fetch(`/decisions/${id}/verdict`, {method: "POST", body});
            return [r.status, r.url, await r.text()];
        }""",
        [decision_id, csrf],
    )
    assert "you filed this decision" in status[2] or "needs a director" in status[2]
    shot(mei, "03-decision-page-filer")

    # The director finds it in the inbox and approves it.
    dana = _sign_in(chromium, server, "dana")
    dana.goto("/inbox")
    row = dana.locator(f'[data-decision="{decision_id}"]')
    assert row.count() == 1
    shot(dana, "04-inbox-director")
    row.get_by_role("button", name="Approve").click()
    dana.wait_for_url("**/inbox?message=*")
    assert "approved" in dana.get_by_role("status").inner_text()
    dana.goto(f"/decisions/{decision_id}")
    assert "approved" in dana.locator("main").inner_text()
    shot(dana, "05-decision-page-approved")

    # Phone width: the inbox stays readable.
    phone = _sign_in(chromium, server, "dana", width=390)
    phone.goto("/decisions")
    shot(phone, "06-decisions-phone")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 400

    # The auditor downloads the export; every line hashes to a leaf of the verified chain.
    ann = _sign_in(chromium, server, "ann")
    ann.goto("/audit")
    assert "Verified:" in ann.get_by_test_id("verify-status").inner_text()
    shot(ann, "07-audit")
    with ann.expect_download() as info:
        ann.get_by_role("link", name="Download JSONL").click()
    with open(info.value.path(), "rb") as f:
        lines = f.read().splitlines()
    bodies = [json.loads(line) for line in lines]
    assert any(b["decision_id"] == decision_id and b["type"] == "approval_recorded" for b in bodies)
    for previous, line, body in zip(lines, lines[1:], bodies[1:], strict=False):
        assert body["prev"] == hashlib.sha256(b"\x00" + previous).hexdigest()
        assert line  # each line is a stored body, byte for byte

    # A digest page renders the decision.
    dana.goto("/digests/weekly")
    assert decision_id in dana.content() or "Sign the Q3 annotation contract" in dana.content()
    shot(dana, "08-digest-weekly")


def test_keyboard_reaches_the_sign_in_form(server: Server, chromium: Any) -> None:
    page = chromium.new_page(base_url=server.url)
    page.goto("/login")
    shot(page, "00-sign-in")
    assert page.evaluate("document.activeElement.id") == "token"  # autofocus: type straight away
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Sign in"
    page.keyboard.press("Shift+Tab")
    page.keyboard.type(server.tokens["jon"])
    page.keyboard.press("Enter")
    page.wait_for_url(server.url + "/")
    # A squad member lands on her own filings and what waits on her, not on an approver's inbox.
    assert "Your open filings" in page.content() and "What waits on you" in page.content()
