"""The amend form's preview in Chromium: live as the filer types (keyboard only), with the warning when
the amendment would dismiss approvals already given; and the same preview without JavaScript.

Its own server: a policy whose tier 2 needs two tech PMs, so an approval can be given and the decision
still be open to amendment (under the default policy one approval closes it)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import Chromium, Server, serve, shot, sign_in
from tests.support import DEFAULT_POLICY

pytestmark = pytest.mark.browser

TWO_PMS = ("approvers: {role: tech_pm, count: 1,", "approvers: {role: tech_pm, count: 2,")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("two-pms")
    text = DEFAULT_POLICY.read_text()
    assert TWO_PMS[0] in text
    policy = home / "policies.yaml"
    policy.write_text(text.replace(*TWO_PMS))
    with serve(home, policy) as running:
        yield running


def _filed_and_approved_once(chromium: Chromium, server: Server, title: str) -> tuple[Any, str]:
    mei = sign_in(chromium, server, "mei")
    mei.goto("/new?category=pipeline")
    mei.get_by_label("Title", exact=True).fill(title)
    mei.get_by_label(re.compile("Risk score")).fill("80")
    mei.get_by_test_id("predicted-tier").wait_for()
    mei.get_by_role("button", name="File the decision").click()
    mei.wait_for_url(re.compile(r".*/decisions/D[^/?]+\?message=filed"))
    decision_id = mei.url.rsplit("/", 1)[1].split("?")[0]
    tomas = sign_in(chromium, server, "tomas")
    tomas.goto("/inbox")
    tomas.get_by_role("button", name=f"Approve {title}").click()
    tomas.wait_for_url("**/inbox?message=*")
    return mei, decision_id


def _tab_to(page: Any, test: str, limit: int = 60) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const el = document.activeElement; return !!el && ({test}); }})()"):
            return
    raise AssertionError(f"Tab never reached an element where {test}")


def test_the_amend_preview_updates_as_the_filer_types_and_warns_of_dismissed_approvals(
    server: Server, chromium: Chromium
) -> None:
    mei, decision_id = _filed_and_approved_once(chromium, server, "Sampler swap approved once")
    mei.goto(f"/decisions/{decision_id}/amend")
    preview = mei.locator("#amend-preview")
    # As the page opens: the content as stored keeps Tomas's approval.
    assert "Kept: the approval of Tomas" in preview.inner_text()
    shot(mei, "amend-01-opened")
    # Keyboard only: to the risk score, a new value; the preview follows without any button.
    _tab_to(mei, "el.id.endsWith('risk_score')")
    mei.keyboard.press("Control+A")
    mei.keyboard.type("95")
    warning = mei.get_by_test_id("dismissed-warning")
    warning.wait_for()
    assert "the approval of Tomas will be dismissed" in warning.inner_text()
    assert "Tier 2" in preview.inner_text() and "Tech PM sign-off" in preview.inner_text()
    assert preview.get_attribute("aria-live") == "polite"  # a screen reader hears the change
    shot(mei, "amend-02-live-warning")
    # Back to the stored value: the warning goes, the approval is kept.
    mei.keyboard.press("Control+A")
    mei.keyboard.type("80")
    mei.wait_for_function("() => !document.querySelector('[data-testid=dismissed-warning]')")
    assert "Kept: the approval of Tomas" in preview.inner_text()
    # Below the threshold: tier 1, and the page says it moved.
    mei.keyboard.press("Control+A")
    mei.keyboard.type("10")
    mei.wait_for_function("() => document.querySelector('#amend-preview').innerText.includes('was tier 2')")
    assert "Squad" in preview.inner_text()
    mei.keyboard.press("Control+A")
    mei.keyboard.type("95")
    warning.wait_for()
    _tab_to(mei, "el.textContent.trim() === 'Amend'")
    mei.keyboard.press("Enter")
    mei.wait_for_url(f"**/decisions/{decision_id}?message=amended")
    assert "dismissed" in mei.locator("main").inner_text()
    shot(mei, "amend-03-amended")


def test_without_javascript_the_preview_button_shows_the_same_preview(server: Server, chromium: Chromium) -> None:
    _, decision_id = _filed_and_approved_once(chromium, server, "Sampler swap, no script")
    context = chromium.new_context(base_url=server.url, java_script_enabled=False)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Token").fill(server.tokens["mei"])
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"/decisions/{decision_id}/amend")
    page.get_by_label(re.compile("Risk score")).fill("95")
    page.get_by_role("button", name="Preview the amendment").click()
    page.wait_for_load_state()
    assert "the approval of Tomas will be dismissed" in page.get_by_test_id("dismissed-warning").inner_text()
    assert page.get_by_label(re.compile("Risk score")).input_value() == "95"  # the form keeps what was typed
    shot(page, "amend-04-no-script-preview", axe=False)  # axe is a script: nothing runs on this page
