"""The audit page shows the latest replay of the log through the rules, and replays on request."""

from __future__ import annotations

from engine.runtime import Runtime
from engine.types import FilingRequest
from tests.web.conftest import Browser


def test_the_audit_page_replays_on_request_and_shows_the_result(browser: Browser, runtime: Runtime) -> None:
    mei = runtime.policies.current.people["mei"]
    runtime.service.file(mei, FilingRequest(title="t", category="reporting_format", attributes={}))
    browser.sign_in("ann")
    before = browser.client.get("/audit")
    assert before.status_code == 200 and "Not replayed yet." in before.text
    replayed = browser.submit("/audit", "/audit/replay", {})
    assert replayed.status_code == 200 and str(replayed.url).endswith("/audit")
    assert 'data-testid="audit-status">Every step allowed: 2 events replayed.' in replayed.text
    # Shown again on the next view without replaying.
    assert "Every step allowed: 2 events replayed." in browser.client.get("/audit").text


def test_only_auditors_and_admins_may_replay(browser: Browser) -> None:
    browser.sign_in("ann")
    token = browser.csrf("/audit")
    browser.sign_in("mei")
    refused = browser.client.post("/audit/replay", data={"_csrf_token": token})
    assert refused.status_code == 403
