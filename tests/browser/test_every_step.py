"""Break-glass, comments and what each person is offered on a decision page, in Chromium; then axe-core
over every page and state the other journeys do not reach (errors, empty states, 403 and 404, both
digests, the effect page, the filing form's refusals), each at desktop width and at 390 px."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import Chromium, Server, accessibility, shot, sign_in
from tests.browser.test_roles import _file

pytestmark = pytest.mark.browser


def _buttons(page: Any) -> set[str]:
    return {b.strip() for b in page.locator("main button, main a.button").all_inner_texts()}


def test_break_glass_comments_and_the_steps_each_person_is_offered(server: Server, chromium: Chromium) -> None:
    mei = sign_in(chromium, server, "mei")
    title = "Hot-fix the dedup job before the client run"
    filed = _file(mei, "pipeline", title, {"Risk score": "85"}, "The client run starts tonight")
    # The filer of a pending tier-2 decision: withdraw, break-glass, amend, comment; not approve.
    assert {"Withdraw", "Proceed now, review after", "Amend this decision", "Comment"} <= _buttons(mei)
    assert "Approve" not in _buttons(mei)
    mei.get_by_label("Break-glass: what harm does waiting cause?").fill("the client run starts at 18:00")
    mei.get_by_role("button", name="Proceed now, review after").click()
    mei.wait_for_url(f"**/decisions/{filed}?message=*")
    assert "break-glass" in mei.get_by_role("status").inner_text()
    main = mei.locator("main").inner_text()
    assert "proceeded pending review" in main and "the client run starts at 18:00" in main
    # Proceeding, it can be neither amended nor withdrawn (the rules say so, the page does not offer it).
    assert not {"Withdraw", "Amend this decision", "Proceed now, review after"} & _buttons(mei)
    mei.get_by_label("Add a comment (logged)").fill("Rolled the sampler back to the March build")
    mei.get_by_role("button", name="Comment").click()
    mei.wait_for_url(f"**/decisions/{filed}?message=*")
    assert "Rolled the sampler back to the March build" in mei.locator(".timeline").inner_text()
    shot(mei, "steps-01-break-glass-and-comment")

    # Another squad member: comments, nothing else.
    ravi = sign_in(chromium, server, "ravi")
    ravi.goto(f"/decisions/{filed}")
    assert _buttons(ravi) == {"Comment"}
    # The auditor reads; no form at all.
    ann = sign_in(chromium, server, "ann")
    ann.goto(f"/decisions/{filed}")
    assert _buttons(ann) == set() and ann.locator("main form").count() == 0
    # The search finds the comment's words.
    ann.goto("/decisions?q=sampler+March")
    assert title in ann.locator("main").inner_text()

    # The tech PM sees it flagged in the inbox and ratifies it from the decision page.
    tomas = sign_in(chromium, server, "tomas")
    tomas.goto("/inbox")
    item = tomas.locator(f'[data-decision="{filed}"]')
    assert "Break-glass: already proceeding" in item.inner_text()
    tomas.goto(f"/decisions/{filed}")
    assert {"Approve", "Reject", "Comment"} <= _buttons(tomas)
    shot(tomas, "steps-02-ratify")
    tomas.get_by_role("button", name=f"Approve {title}").click()
    tomas.wait_for_url(f"**/decisions/{filed}?message=*")
    assert title in tomas.get_by_role("status").inner_text()
    assert "approved" in tomas.locator("main").inner_text()


def test_every_page_and_state_passes_axe(server: Server, chromium: Chromium) -> None:
    mei = sign_in(chromium, server, "mei")
    filed = _file(mei, "pipeline", "Axe sweep: a tier-2 change", {"Risk score": "90"}, "For the axe sweep")
    old = _file(mei, "reporting_format", "Axe sweep: a tier-1 format", {})
    pages: list[tuple[str, str, str]] = [
        ("mei", "/", "home-squad-member"),
        ("mei", "/new", "new-no-category"),
        ("mei", f"/new?category=reporting_format&supersedes={old}", "new-superseding"),
        ("mei", f"/decisions/{filed}/amend", "amend-opened"),
        ("mei", "/delegations", "delegations-squad-member"),
        ("mei", "/delegations?error=give+both+dates+as+YYYY-MM-DD", "delegations-error"),
        ("tomas", "/inbox?sort=tier", "inbox-by-tier"),
        ("tomas", "/inbox?sort=random", "inbox-unknown-order"),
        ("tomas", f"/decisions/{filed}?error=already+decided", "decision-error"),
        ("jon", "/inbox", "inbox-empty"),
        ("ann", "/decisions?tier=9&from=someday", "decisions-refused-filters"),
        ("ann", "/decisions?q=nothing+matches+this", "decisions-none"),
        ("ann", "/digests/biweekly", "digest-biweekly"),
        ("ann", "/digests/weekly?date=not-a-date", "digest-bad-date"),
        ("ann", "/effect", "effect"),
        ("ann", "/new", "forbidden"),
        ("ann", "/decisions/DNOSUCHDECISION", "not-found"),
    ]
    for width in (1280, 390):
        people: dict[str, Any] = {}
        for who, url, name in pages:
            page = people.get(who) or people.setdefault(who, sign_in(chromium, server, who, width=width))
            page.goto(url)
            page.wait_for_load_state()
            accessibility(page, f"{name}-{width}")
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (name, width)
    # The filing form refusing what was typed (a 400 page with the errors beside the fields).
    mei.goto("/new?category=pipeline")
    mei.get_by_label("Title", exact=True).fill("   ")  # the browser lets blanks through; the server does not
    mei.get_by_label(re.compile("Risk score")).fill("50")
    mei.get_by_role("button", name="File the decision").click()
    mei.wait_for_load_state()
    assert mei.locator("main .error").count() >= 1
    shot(mei, "steps-03-filing-refused")
