"""The audit page: the evidence bundle one click away, and a warning when the latest checkpoint lags the log."""

from __future__ import annotations

import io
import zipfile

from engine.runtime import Runtime
from engine.types import FilingRequest
from tests.support import ManualClock
from tests.web.conftest import Browser


def _file(runtime: Runtime) -> None:
    mei = runtime.policies.current.people["mei"]
    runtime.service.file(mei, FilingRequest(title="t", category="contract", attributes={"change": "scope"}))


def test_the_bundle_button_downloads_the_evidence_zip(browser: Browser, runtime: Runtime) -> None:
    _file(runtime)
    browser.sign_in("ann")
    page = browser.client.get("/audit")
    assert 'href="/audit/bundle"' in page.text
    r = browser.client.get("/audit/bundle")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        assert {"README.txt", "decision-log.jsonl", "checkpoint.txt", "public.key", "verify_export.py"} <= set(
            zf.namelist()
        )
    browser.sign_in("mei")
    assert browser.client.get("/audit/bundle").status_code == 403


def test_the_page_warns_when_the_checkpoint_lags_the_log(
    browser: Browser, runtime: Runtime, clock: ManualClock
) -> None:
    browser.sign_in("ann")
    _file(runtime)
    clock.advance(minutes=10)  # the event has waited longer than the signer (60 s by default) should take
    page = browser.client.get("/audit").text
    assert 'data-testid="checkpoint-lag"' in page and "No checkpoint covers the log yet" in page
    runtime.checkpoints.create()
    assert 'data-testid="checkpoint-lag"' not in browser.client.get("/audit").text
    _file(runtime)
    assert 'data-testid="checkpoint-lag"' not in browser.client.get("/audit").text  # just appended: not late yet
    clock.advance(minutes=10)
    page = browser.client.get("/audit").text
    size = runtime.service.verify_log().size
    assert f"The latest checkpoint covers {size - 1} of {size} events" in page
