"""Times on the pages read in the policy's zone, in words ("Mon 9 Mar 15:00 PDT"), with the UTC instant in the
<time> element's datetime attribute; across a daylight-saving change each side keeps its own clock and name."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from litestar.testing import TestClient

from api.app import create_app
from api.web.times import local_words, time_element
from engine.runtime import Runtime, open_runtime
from engine.types import FilingRequest
from tests.support import DEFAULT_POLICY
from tests.web.conftest import Browser

LA = ZoneInfo("America/Los_Angeles")


def test_an_instant_in_words_in_the_zone_of_the_policy() -> None:
    moment = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
    this_year = datetime(2026, 6, 1, tzinfo=UTC)
    assert local_words(moment, ZoneInfo("Europe/Paris"), this_year) == "Tue 1 Dec 14:00 CET"
    assert local_words(moment, LA, this_year) == "Tue 1 Dec 05:00 PST"
    # Another year says which; a zone with no abbreviation gives its offset from UTC, not a bare "-03".
    assert local_words(moment, LA, datetime(2027, 1, 2, tzinfo=UTC)) == "Tue 1 Dec 2026 05:00 PST"
    assert local_words(moment, ZoneInfo("America/Sao_Paulo"), this_year) == "Tue 1 Dec 10:00 UTC-03"
    # New Year's Eve in Los Angeles is already 2027 in UTC: the year is the local one.
    eve = datetime(2027, 1, 1, 7, 30, tzinfo=UTC)
    assert local_words(eve, LA, datetime(2026, 12, 31, 20, tzinfo=UTC)) == "Thu 31 Dec 23:30 PST"


def test_the_minute_before_and_the_minute_after_the_clocks_go_forward() -> None:
    with freeze_time("2026-03-08 09:59:00"):  # 01:59 PST; at 02:00 the clocks go to 03:00 PDT
        now = datetime.now(UTC)
        assert local_words(now, LA, now) == "Sun 8 Mar 01:59 PST"
    with freeze_time("2026-03-08 10:00:00"):
        now = datetime.now(UTC)
        assert local_words(now, LA, now) == "Sun 8 Mar 03:00 PDT"
        element = str(time_element(now, LA, now))
        assert element == '<time datetime="2026-03-08T10:00:00Z">Sun 8 Mar 03:00 PDT</time>'
    assert str(time_element(None, LA)) == ""


@pytest.fixture
def frozen_site(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Runtime, Browser, Any]]:
    """The service on the system clock, which freezegun then holds on Friday 9 March 2040, 14:00 in Los Angeles:
    two days before the clocks go forward there (Sunday 11 March, 02:00 PST becomes 03:00 PDT)."""
    monkeypatch.setenv("DECISIONS_GROUP_COMMIT", "0")  # no committer thread waiting on a frozen clock
    # Opened on the real clock (a policy loaded under freezegun hands its dates over as FakeDate), then frozen
    # far ahead of it: the log never stamps an event earlier than the one before it.
    runtime = open_runtime(database_url, str(DEFAULT_POLICY))
    try:
        with (
            TestClient(create_app(runtime), raise_server_exceptions=True) as client,
            freeze_time("2040-03-09 22:00:00", real_asyncio=True) as frozen,
        ):
            tokens = {who: runtime.service.create_token(who) for who in ("mei", "tomas", "dana")}
            yield runtime, Browser(client, tokens), frozen
    finally:
        runtime.close()


def _item(page: str, title: str) -> str:
    """One inbox item from its title on (tags kept: the <time> elements are the point)."""
    start = page.index(f">{title}</a>")
    return page[start : page.index("</li>", start)]


def test_the_inbox_shows_when_a_decision_is_due_across_the_dst_change(frozen_site) -> None:  # type: ignore[no-untyped-def]
    runtime, browser, frozen = frozen_site
    mei = runtime.policies.current.people["mei"]
    # Tier 2 (beyond the 2% bound), 3-day SLA: filed Fri 14:00 PST, due Mon 22:00 UTC, which is 15:00 PDT.
    d = runtime.service.file(
        mei, FilingRequest(title="Loosen the bound", category="quality_threshold", attributes={"deviation_pct": 3.5})
    ).decision

    frozen.move_to("2040-03-11 20:00:00")  # Sunday, after the clocks went forward
    browser.sign_in("tomas")
    item = _item(browser.client.get("/inbox").text, "Loosen the bound")
    assert 'due <time datetime="2040-03-12T22:00:00Z">Mon 12 Mar 15:00 PDT</time>' in item
    assert "2040-03-12T22:00:00+00:00" not in item and "overdue" not in item
    page = browser.client.get(f"/decisions/{d.id}").text
    assert '<time datetime="2040-03-09T22:00:00Z">Fri 9 Mar 14:00 PST</time>' in page  # filed, before the change

    frozen.move_to("2040-03-13 17:00:00")  # Tuesday: overdue since Monday; tier 2 escalates to the director
    browser.sign_in("tomas")
    item = _item(browser.client.get("/inbox").text, "Loosen the bound")
    assert 'overdue</strong>, was due <time datetime="2040-03-12T22:00:00Z">Mon 12 Mar 15:00 PDT</time>' in item
    browser.sign_in("dana")
    item = _item(browser.client.get("/inbox").text, "Loosen the bound")
    assert (
        'Escalated to you: overdue since <time datetime="2040-03-12T22:00:00Z">Mon 12 Mar 15:00 PDT</time>; '
        "tier 2 (Tech PM sign-off) escalates to director" in item
    )
    # The API keeps the UTC instant, as data.
    api = browser.client.get("/v1/inbox", headers={"Authorization": f"Bearer {browser.tokens['dana']}"}).json()
    assert api["items"][0]["escalation"].startswith("overdue since 2040-03-12T22:00:00")
