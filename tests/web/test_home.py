"""Home by role: a squad member sees her own open filings and what waits on her; approvers their inbox;
auditors the audit page."""

from __future__ import annotations

from datetime import timedelta

from engine.runtime import Runtime
from engine.types import DelegationRequest, FilingRequest
from tests.web.conftest import Browser


def test_each_role_lands_where_its_work_is(browser: Browser, runtime: Runtime) -> None:
    people = runtime.policies.current.people
    service = runtime.service
    risky = {"risk_score": 80}
    pending = [
        service.file(people["mei"], FilingRequest(title=f"Raise risk {i}", category="pipeline", attributes=risky))
        for i in range(3)
    ]
    service.file(people["mei"], FilingRequest(title="A <i>tiny</i> fix", category="reporting_format", attributes={}))
    service.file(people["jon"], FilingRequest(title="Jon's own", category="pipeline", attributes={"risk_score": 80}))
    # tomas (tech PM) is away: mei holds his sign-off, so jon's filing waits on her.
    now = service.clock()
    service.delegate(
        people["tomas"],
        DelegationRequest(
            delegate="mei", role="tech_pm", starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=3)
        ),
    )

    browser.sign_in("mei")
    home = browser.client.get("/")
    assert home.status_code == 200 and "Your open filings (3)" in home.text
    for filed in pending:
        assert f'data-decision="{filed.decision.id}"' in home.text
    assert "still needs" in home.text  # what the quorum lacks, in words
    assert "What waits on you (1)" in home.text and "Jon&#39;s own" in home.text
    assert 'on behalf of <span title="tomas">Tomas</span> (delegation)' in home.text
    # Her tier-1 filing was resolved at once: settled, not open; its title escaped.
    assert "A &lt;i&gt;tiny&lt;/i&gt; fix" in home.text and "<i>tiny</i>" not in home.text

    browser.client.cookies.clear()
    browser.sign_in("tomas")
    assert browser.client.get("/", follow_redirects=False).headers["location"] == "/inbox"
    browser.client.cookies.clear()
    browser.sign_in("ann")
    assert browser.client.get("/", follow_redirects=False).headers["location"] == "/audit"
