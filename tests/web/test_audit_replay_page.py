"""The audit page shows stored results (verification and replay) and the tail checked since, and starts the
worker on request: nothing CPU-bound over the whole log runs in the serving process."""

from __future__ import annotations

import json
import re
import time

import sqlalchemy as sa

from engine.log.recorded import verify_full_and_record
from engine.runtime import Runtime
from engine.types import FilingRequest
from tests.log.tampering import drop_guards, restore_guards, row_for, rows
from tests.web.conftest import Browser


def _file(runtime: Runtime, n: int = 1) -> None:
    mei = runtime.policies.current.people["mei"]
    for i in range(n):
        runtime.service.file(mei, FilingRequest(title=f"t{i}", category="reporting_format", attributes={}))


def wait_for_the_worker(runtime: Runtime, kind: str, count: int = 1, timeout: float = 60) -> None:
    """The worker runs in its own process: wait until it has stored its `count`th result of `kind`."""
    deadline = time.monotonic() + timeout
    query = sa.text("SELECT count(*) FROM log_verifications WHERE kind = :k")
    while True:
        with runtime.service.engine.connect() as conn:
            if conn.execute(query, {"k": kind}).scalar_one() >= count:
                return
        assert time.monotonic() < deadline, "the verification worker did not finish"
        time.sleep(0.1)


def test_the_audit_page_replays_on_request_and_shows_the_result(browser: Browser, runtime: Runtime) -> None:
    _file(runtime)
    browser.sign_in("ann")
    before = browser.client.get("/audit")
    assert before.status_code == 200 and "Not replayed yet." in before.text
    asked = browser.submit("/audit", "/audit/replay", {})
    assert asked.status_code == 200 and str(asked.url).endswith("/audit")
    wait_for_the_worker(runtime, "audit")
    page = browser.client.get("/audit").text
    assert 'data-testid="audit-status">Every step allowed: 2 events replayed.' in page
    assert "(covers the whole log)" in page
    _file(runtime)
    assert "(1 events appended since)" in browser.client.get("/audit").text


def test_only_auditors_and_admins_may_start_jobs(browser: Browser) -> None:
    browser.sign_in("ann")
    token = browser.csrf("/audit")
    browser.sign_in("mei")
    for path in ("/audit/replay", "/audit/verify"):
        assert browser.client.post(path, data={"_csrf_token": token}).status_code == 403
    browser.sign_in("ann")
    assert browser.client.post("/audit/verify", data={}).status_code == 403  # no CSRF token


def test_the_page_shows_the_stored_result_and_checks_only_the_tail(browser: Browser, runtime: Runtime) -> None:
    _file(runtime, 3)
    verify_full_and_record(runtime.service.engine, runtime.service.origin, [], runtime.service.clock)
    # An event inside the verified prefix is changed: a full verification would see it; the page must not
    # read that far (it shows the stored result), which is the point of not verifying per view.
    drop_guards(runtime)
    body = {**json.loads(rows(runtime)[1]["body"]), "actor": "mallory"}
    with runtime.service.engine.begin() as conn:
        conn.execute(sa.text("UPDATE events SET body = :b WHERE seq = 1"), {"b": row_for(body)["body"]})
    restore_guards(runtime)
    _file(runtime, 1)
    browser.sign_in("ann")
    page = browser.client.get("/audit").text
    assert 'data-testid="verify-status">Verified: 5 events, chain intact.' in page
    # Signing in lands on this page, which may have checked (and stored) the tail already.
    assert re.search(r"Events [45] to 5 checked now; the first [45] by the (full|incremental) verification", page)
    assert "Last full verification: 4 events, intact" in page and "(1 events appended since)" in page
    # The full verification, in the worker, finds it; the page shows that from then on.
    browser.submit("/audit", "/audit/verify", {})
    wait_for_the_worker(runtime, "full", count=2)
    after = browser.client.get("/audit").text
    assert 'data-testid="verify-status">BROKEN at seq 1:' in after
