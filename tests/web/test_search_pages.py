"""The decisions list: search box, date range, order, pages, and the CSV export of what it shows."""

from __future__ import annotations

import csv
import io
import re

from engine.runtime import Runtime
from engine.types import DecisionFilter, FilingRequest
from tests.support import ManualClock
from tests.web.conftest import Browser


def _file(runtime: Runtime, title: str, rationale: str | None = None) -> str:
    mei = runtime.policies.current.people["mei"]
    request = FilingRequest(title=title, category="reporting_format", attributes={}, rationale=rationale)
    return runtime.service.file(mei, request).decision.id


def test_search_dates_order_and_export_keep_the_filters(browser: Browser, runtime: Runtime, clock: ManualClock) -> None:
    _file(runtime, "Move the weekly report to Mondays", "stakeholders asked")
    clock.advance(days=2)
    _file(runtime, "Add a <b>bold</b> column to the report")
    clock.advance(days=2)
    _file(runtime, "=cmd|' /C calc'!A0 report")
    _file(runtime, "Unrelated change")
    browser.sign_in("ann")
    page = browser.client.get("/decisions", params={"q": "report", "sort": "oldest"})
    assert page.status_code == 200
    text = page.text
    assert text.index("Move the weekly report") < text.index("bold") < text.index("calc")
    assert "Unrelated change" not in text
    # User text is escaped for HTML, in the results and in the search box.
    assert "<b>bold</b>" not in text and "&lt;b&gt;bold&lt;/b&gt;" in text
    assert browser.client.get("/decisions", params={"q": '"><script>x</script>'}).text.count("<script>x") == 0
    # The date range is in the policy's days, the last one included.
    first_day = runtime.service.get(
        runtime.service.list_decisions(DecisionFilter(), None, 50, "oldest").items[0].id
    ).created_at
    day = first_day.astimezone(runtime.policies.current.timezone).date()
    ranged = browser.client.get("/decisions", params={"q": "report", "from": str(day), "to": str(day)}).text
    assert "Move the weekly report" in ranged and "calc" not in ranged
    assert "is not a date" in browser.client.get("/decisions", params={"from": "next week"}).text
    # The export link carries the current filters.
    assert 'href="/decisions/export?q=report&amp;sort=oldest"' in text
    export = browser.client.get("/decisions/export", params={"q": "report", "sort": "oldest"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [r["title"] for r in rows] == [
        "Move the weekly report to Mondays",
        "Add a <b>bold</b> column to the report",
        "'=cmd|' /C calc'!A0 report",
    ]


def test_pages_follow_the_cursor_with_the_filters(browser: Browser, runtime: Runtime) -> None:
    for i in range(55):
        _file(runtime, f"batch item {i:02d}")
    browser.sign_in("ann")
    first = browser.client.get("/decisions", params={"q": "batch", "sort": "title"}).text
    assert "batch item 00" in first and "batch item 49" in first and "batch item 50" not in first
    assert "Next page" in first
    href = re.search(r'rel="next" href="([^"]+)"', first)
    assert href is not None
    second = browser.client.get(href.group(1).replace("&amp;", "&")).text
    assert "batch item 50" in second and "batch item 54" in second and "batch item 49" not in second
    assert "First page" in second and "Next page" not in second
