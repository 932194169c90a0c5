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


ALERT = re.compile(r'<p class="error" role="alert">([^<]*)</p>')


def test_a_null_tier_or_status_is_named_on_the_page_not_read_as_any(browser: Browser, runtime: Runtime) -> None:
    """`?tier=null` is a 400 on the API; the page says in words that it showed every tier instead.

    Never a 500, and never the whole list as if the filter had been read: the refusal is on the page.
    """
    mei = runtime.policies.current.people["mei"]
    runtime.service.file(mei, FilingRequest(title="Report font", category="reporting_format", attributes={}))
    runtime.service.file(
        mei, FilingRequest(title="Sampler rewrite", category="pipeline", attributes={"risk_score": 80})
    )
    browser.sign_in("ann")
    one = browser.client.get("/decisions", params={"tier": "1"})
    assert one.status_code == 200 and ALERT.findall(one.text) == []
    assert "Report font" in one.text and "Sampler rewrite" not in one.text
    cases = {
        "tier": "tier must be 1, 2 or 3, not &#39;null&#39;; showing every tier",
        "status": "unknown status &#39;null&#39;; showing every status",
    }
    for name, alert in cases.items():
        page = browser.client.get("/decisions", params={name: "null"})
        assert page.status_code == 200
        assert ALERT.findall(page.text) == [alert]
        # What the alert says is shown: the filter dropped, its select back on "any".
        assert "Report font" in page.text and "Sampler rewrite" in page.text
        select = re.search(rf'<select id="f-{name}" name="{name}">(.*?)</select>', page.text)
        assert select is not None and "selected" not in select.group(1)
        # The CSV of that page would be every decision: it sends the browser back to the list and its alert.
        export = browser.client.get("/decisions/export", params={name: "null"}, follow_redirects=False)
        assert export.status_code == 303 and export.headers["location"] == f"/decisions?{name}=null"
    both = browser.client.get("/decisions", params={"tier": "null", "status": "null"})
    assert both.status_code == 200 and ALERT.findall(both.text) == list(cases.values())
