"""Digests and metrics over HTTP, from a reader's side: who may read, what a bad query says, what a title can't do."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.conftest import PEOPLE, Api


@pytest.mark.parametrize("path", ["/v1/digests/weekly", "/v1/digests/biweekly", "/v1/metrics/escalations"])
def test_everyone_signed_in_may_read_and_nobody_else(api: Api, path: str) -> None:
    for who in PEOPLE:
        assert api.get(path, who).status_code == 200, who
    anonymous = api.get(path, None)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("value", ["2026-02-30", "20260302", "", "next monday"])
def test_a_bad_date_is_a_400_on_the_date_field(api: Api, value: str) -> None:
    r = api.get(f"/v1/digests/weekly?date={value}", "dana")
    assert r.status_code == 400, r.text
    assert [e["path"].rstrip("_") for e in r.json()["errors"]] == ["$.query.date"]


def test_the_problem_names_the_query_key_exactly(api: Api) -> None:
    r = api.get("/v1/digests/weekly?date=2026-02-30", "dana")
    assert r.json()["errors"][0]["path"] == "$.query.date"


def test_titles_cannot_inject_markup_into_the_html_or_break_the_markdown_table(api: Api) -> None:
    evil = api.file("mei", "contract", {"change": "scope"}, title="<script>alert(1)</script> a | b")
    html = api.get("/v1/digests/weekly?format=html", "dana").text
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    md = api.get("/v1/digests/weekly?format=md", "dana").text
    row = next(line for line in md.splitlines() if line.endswith(f"| {evil['id']} |"))  # the id is last
    assert "a \\| b" in row and row.count(" | ") == 7  # 8 columns: an escaped pipe adds none


def test_a_date_picks_the_window_containing_it_and_the_default_is_today_in_la(api: Api) -> None:
    # The runtime clock starts Monday 2026-03-02 17:00 UTC, 09:00 in Los Angeles.
    today = api.get("/v1/digests/weekly", "dana").json()
    assert (today["window_start"], today["window_last_day"]) == ("2026-03-02", "2026-03-08")
    sunday = api.get("/v1/digests/weekly?date=2026-03-01", "dana").json()
    assert (sunday["window_start"], sunday["window_last_day"]) == ("2026-02-23", "2026-03-01")
    # 2026-03-02 is ten weeks after the anchor 2026-01-05: an even week, so a fortnight starts there.
    fortnight = api.get("/v1/digests/biweekly?date=2026-03-15", "dana").json()
    assert (fortnight["window_start"], fortnight["window_last_day"]) == ("2026-03-02", "2026-03-15")


def test_overdue_shows_in_the_inbox_the_digest_and_the_scrape(api: Api) -> None:
    clock = api.runtime.service.clock
    d = api.file("ravi", "pipeline", {"risk_score": 80}, title="new sampler")  # tier 2, SLA 3 days, approver priya
    item = next(i for i in api.get("/v1/inbox", "priya").json()["items"] if i["decision"]["id"] == d["id"])
    assert item["overdue"] is False and item["due_at"] is not None
    scrape = set(api.client.get("/metrics").text.splitlines())
    assert 'decisions_overdue{tier="2"} 0' in scrape
    clock.now += timedelta(days=3, minutes=1)  # type: ignore[attr-defined]
    item = next(i for i in api.get("/v1/inbox", "priya").json()["items"] if i["decision"]["id"] == d["id"])
    assert item["overdue"] is True
    digest = api.get("/v1/digests/weekly", "dana").json()
    assert digest["overdue"] == 1 and digest["pending"][0]["overdue"] is True
    assert 'decisions_overdue{tier="2"} 1' in set(api.client.get("/metrics").text.splitlines())
