"""The pages through a real app and TestClient: sign-in, CSRF, roles enforced on every action."""

from __future__ import annotations

import html
import re

from engine.runtime import Runtime
from engine.types import FilingRequest
from tests.support import ManualClock
from tests.web.conftest import Browser


def test_pages_need_a_session_and_sign_in_sets_one(browser: Browser) -> None:
    r = browser.client.get("/inbox", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/inbox"
    bad = browser.client.post("/login", data={"token": "drt_nope", "_csrf_token": browser.csrf()})
    assert bad.status_code == 401 and "unknown or revoked" in bad.text
    browser.sign_in("tomas")
    inbox = browser.client.get("/inbox")
    assert inbox.status_code == 200 and "What waits on me" in inbox.text
    browser.submit("/inbox", "/logout", {})
    assert browser.client.get("/inbox", follow_redirects=False).status_code == 303


def test_forms_without_the_csrf_token_are_refused(browser: Browser) -> None:
    browser.sign_in("mei")
    r = browser.client.post("/new", data={"category": "reporting_format", "title": "x", "action": "file"})
    assert r.status_code == 403
    assert browser.client.get("/decisions").text.count('data-decision="') == 0  # nothing was filed


def test_login_never_redirects_off_site(browser: Browser) -> None:
    token = browser.csrf()
    r = browser.client.post(
        "/login",
        data={"token": browser.tokens["mei"], "next": "//evil.example/x", "_csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_filing_form_previews_then_files(browser: Browser) -> None:
    browser.sign_in("mei")
    form = browser.client.get("/new?category=quality_threshold")
    assert 'name="attr.deviation_pct"' in form.text and "How far the standard moves" in form.text
    preview = browser.submit(
        "/new?category=quality_threshold",
        "/new",
        {"category": "quality_threshold", "title": "loosen", "attr.deviation_pct": "3.5", "action": "preview"},
    )
    assert "Tier 2" in preview.text and "beyond-bound" in preview.text
    bad = browser.submit(
        "/new?category=quality_threshold",
        "/new",
        {"category": "quality_threshold", "title": "loosen", "attr.deviation_pct": "lots", "action": "file"},
    )
    assert bad.status_code == 400 and 'id="attr.deviation_pct-error"' in bad.text and "enter a number" in bad.text
    filed = browser.submit(
        "/new?category=quality_threshold",
        "/new",
        {"category": "quality_threshold", "title": "loosen", "attr.deviation_pct": "3.5", "action": "file"},
    )
    assert filed.status_code == 200 and "loosen" in filed.text and "pending" in filed.text


def test_a_squad_member_cannot_approve_and_the_director_can(browser: Browser, runtime) -> None:  # type: ignore[no-untyped-def]
    from engine.types import FilingRequest

    mei = runtime.policies.current.people["mei"]
    filing = FilingRequest(title="new client", category="contract", attributes={"change": "scope"})
    d = runtime.service.file(mei, filing)
    page = f"/decisions/{d.decision.id}"
    browser.sign_in("jon")
    assert "Approve" not in browser.client.get(page).text
    refused = browser.submit(page, f"{page}/verdict", {"verdict": "approve"})
    import re

    alert = re.search(r'<p class="alert" role="alert">([^<]*)</p>', refused.text)
    assert alert and "needs a director" in alert.group(1), refused.text
    assert runtime.service.get(d.decision.id).status == "pending"
    browser.sign_in("dana")
    assert "Approve" in browser.client.get(page).text
    done = browser.submit(page, f"{page}/verdict", {"verdict": "approve"})
    assert "approved" in done.text
    assert runtime.service.get(d.decision.id).status == "approved"


def test_audit_page_is_for_auditors(browser: Browser) -> None:
    browser.sign_in("mei")
    assert browser.client.get("/audit").status_code == 403
    browser.sign_in("ann")
    page = browser.client.get("/audit")
    assert page.status_code == 200 and "Verified:" in page.text
    export = browser.client.get("/audit/export/jsonl")
    assert export.status_code == 200 and export.text.startswith('{"actor":"system"')


def test_the_inbox_page_pages_with_a_cursor(browser: Browser, runtime: Runtime) -> None:
    mei = runtime.policies.current.people["mei"]
    ids = [
        runtime.service.file(mei, FilingRequest(title=f"p{i}", category="pipeline", attributes={"risk_score": 80}))
        for i in range(52)
    ]
    browser.sign_in("tomas")
    first = browser.client.get("/inbox").text
    assert first.count('data-decision="') == 50
    link = re.search(r'rel="next" href="(/inbox\?sort=oldest&amp;cursor=[^"]+)"', first)
    assert link, "the first page names the next one"
    second = browser.client.get(html.unescape(link.group(1))).text
    assert [m for m in re.findall(r'data-decision="([^"]+)"', second)] == [r.decision.id for r in ids[50:]]
    assert 'rel="next"' not in second
    # The decision page shows Approve to whom the rules allow.
    page = browser.client.get(f"/decisions/{ids[0].decision.id}").text
    assert 'value="approve"' in page


def test_the_inbox_page_sorts_pages_in_its_order_and_a_verdict_returns_to_it(
    browser: Browser, runtime: Runtime, clock: ManualClock
) -> None:
    people = runtime.policies.current.people
    filed = []
    for i in range(51):  # tier 2 and tier 3 alternately; the tier-2 ones get overdue, so escalate to the director
        category, attributes = ("contract", {"change": "scope"}) if i % 2 else ("pipeline", {"risk_score": 80})
        request = FilingRequest(title=f"d{i:02d}", category=category, attributes=attributes)
        filed.append(runtime.service.file(people["mei"], request).decision)
        clock.advance(minutes=1)
    clock.advance(days=4)
    browser.sign_in("dana")

    def titles(text: str) -> list[str]:
        return re.findall(r'<h2 class="t" id="t-[^"]+"><a href="[^"]+">([^<]+)</a>', text)

    page = browser.client.get("/inbox?sort=tier").text
    assert '<option value="tier" selected>' in page
    by_tier = [d.title for d in filed if d.tier == 3] + [d.title for d in filed if d.tier == 2]
    assert titles(page) == by_tier[:50]
    link = re.search(r'rel="next" href="([^"]+)"', page)
    assert link and html.unescape(link.group(1)).startswith("/inbox?sort=tier&cursor=")
    assert titles(browser.client.get(html.unescape(link.group(1))).text) == by_tier[50:]
    # A cursor of another order is not followed: that order's first page.
    other = html.unescape(link.group(1)).replace("sort=tier", "sort=newest")
    assert titles(browser.client.get(other).text) == [d.title for d in filed][::-1][:50]
    assert "unknown order" in browser.client.get("/inbox?sort=random").text
    # Due soonest first: the tier-2 ones (3-day SLA) before the tier-3 ones (5 days), filing order within.
    due = browser.client.get("/inbox?sort=due").text
    assert '<option value="due" selected>' in due
    assert titles(due) == ([d.title for d in filed if d.tier == 2] + [d.title for d in filed if d.tier == 3])[:50]
    # Approving from the inbox sorted by tier comes back to it, sorted by tier, naming the title.
    top = filed[1]
    r = browser.submit(
        "/inbox?sort=tier", f"/decisions/{top.id}/verdict", {"verdict": "approve", "back": "/inbox?sort=tier"}
    )
    assert r.status_code == 200 and str(r.url).startswith(f"{r.url.scheme}://{r.url.host}/inbox?sort=tier&message=")
    assert "“d01”: approved" in html.unescape(r.text)
    # Any other address in the form is not followed (the decision's own page instead).
    r = browser.submit("/inbox", f"/decisions/{filed[3].id}/verdict", {"verdict": "approve", "back": "//evil.example"})
    assert f"/decisions/{filed[3].id}?message=" in str(r.url)


def test_the_decision_page_offers_approve_only_when_the_rules_allow(browser: Browser, runtime: Runtime) -> None:
    mei = runtime.policies.current.people["mei"]
    d = runtime.service.file(mei, FilingRequest(title="c", category="contract", attributes={"change": "scope"}))
    browser.sign_in("tomas")  # a tech PM does not hold the director's sign-off
    assert 'value="approve"' not in browser.client.get(f"/decisions/{d.decision.id}").text


def test_a_missing_decision_is_a_page_not_a_problem_document(browser: Browser) -> None:
    browser.sign_in("ann")
    r = browser.client.get("/decisions/DNOSUCHDECISION")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in r.text and '<html lang="en">' in r.text
    browser.sign_in("mei")
    assert browser.client.get("/decisions/DNOSUCHDECISION/amend").status_code == 404
