"""Input the client controls is a 4xx problem naming the field, never a 500, and alike on both backends."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.api.conftest import Api

TIER2 = {"title": "t", "category": "quality_threshold", "attributes": {"deviation_pct": 3.0}}


def _refused(response: Any, path: str, status: int | tuple[int, ...] = (400, 422)) -> dict[str, Any]:
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert path in [e["path"] for e in body.get("errors", [])], body
    return body


def _delegation(starts_at: str, ends_at: str) -> dict[str, str]:
    return {"delegate": "ravi", "role": "tech_pm", "starts_at": starts_at, "ends_at": ends_at}


@pytest.mark.parametrize(
    ("starts_at", "ends_at", "path"),
    [
        ("2026-01-01T00:00:00", "2026-01-02T00:00:00", "$.starts_at"),
        ("2026-01-01T00:00:00Z", "2026-01-02T00:00:00", "$.ends_at"),
        ("2026-01-01T00:00:00Z", "9999-12-31T23:00:00-05:00", "$.ends_at"),
        ("0001-01-01T01:00:00+05:00", "2026-01-02T00:00:00Z", "$.starts_at"),
    ],
)
def test_delegation_instants_must_be_aware_and_in_range(api: Api, starts_at: str, ends_at: str, path: str) -> None:
    _refused(api.post("/v1/delegations", "tomas", _delegation(starts_at, ends_at)), path, 400)


@pytest.mark.parametrize("route", ["/v1/decisions", "/v1/log/export", "/v1/log/export/proofs", "/v1/log/bundle"])
@pytest.mark.parametrize(
    ("query", "path"),
    [
        ("since=2026-01-01T00:00:00", "$.query.since"),
        ("since=9999-12-31T23:59:59-05:00", "$.query.since"),
        ("since=1", "$.query.since"),
        ("until=-692174643", "$.query.until"),
        ("since=2026-01-01", "$.query.since"),
    ],
)
def test_query_instants_are_rfc3339_and_in_range(api: Api, route: str, query: str, path: str) -> None:
    api.file("mei", "quality_threshold", {"deviation_pct": 3.0})
    who = "mei" if route == "/v1/decisions" else "ann"
    # For the export: a refusal before the first byte, never a 200 cut off mid-body.
    _refused(api.get(f"{route}?{query}", who), path, 400)


def test_a_well_formed_instant_still_filters(api: Api) -> None:
    api.file("mei", "quality_threshold", {"deviation_pct": 3.0})
    assert len(api.get("/v1/decisions?since=2026-01-01T00:00:00%2B01:00", "mei").json()["items"]) == 1
    assert api.get("/v1/decisions?until=2026-01-01T00:00:00Z", "mei").json()["items"] == []
    export = api.get("/v1/log/export?since=2026-01-01T00:00:00Z", "ann")
    assert export.status_code == 200 and export.text.count("\n") >= 1


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_digest_dates_at_the_ends_of_the_calendar(api: Api, day: str) -> None:
    _refused(api.get(f"/v1/digests/weekly?date={day}", "mei"), "$.query.date", 422)


def test_digest_page_at_the_ends_of_the_calendar(api: Api) -> None:
    from tests.web.conftest import Browser

    browser = Browser(api.client, api.tokens)
    browser.sign_in("mei")
    for day in ("0001-01-01", "9999-12-31"):
        page = api.client.get(f"/digests/weekly?date={day}")
        assert page.status_code == 200 and "showing the current window" in page.text


def test_a_65_bit_cursor_is_refused_on_the_api_and_the_list_page(api: Api) -> None:
    cursor = base64.urlsafe_b64encode(b"s" + str(2**64 + 1).encode()).decode().rstrip("=")
    _refused(api.get(f"/v1/decisions?cursor={cursor}", "mei"), "$.query.cursor", 422)
    from tests.web.conftest import Browser

    browser = Browser(api.client, api.tokens)
    browser.sign_in("mei")
    page = api.client.get(f"/decisions?cursor={cursor}")
    assert page.status_code == 200 and "not a cursor this service issued" in page.text


NUL = "\u0000"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({**TIER2, "title": f"a{NUL}b"}, "$.title"),
        ({**TIER2, "category": f"quality{NUL}"}, "$.category"),
        ({**TIER2, "rationale": f"why{NUL}"}, "$.rationale"),
        ({**TIER2, "attributes": {"deviation_pct": 3.0, f"k{NUL}": 1}}, "$.attributes.k\\x00"),
        ({**TIER2, "attributes": {"deviation_pct": 3.0, "note": f"v{NUL}"}}, "$.attributes.note"),
        ({**TIER2, "title": "a\u0007b"}, "$.title"),
    ],
)
def test_control_characters_in_a_filing_are_refused_alike_on_both_backends(
    api: Api, body: dict[str, Any], path: str
) -> None:
    _refused(api.post("/v1/decisions", "mei", body), path, 400)
    assert api.get("/v1/decisions", "mei").json()["items"] == []


def test_control_characters_in_a_comment_are_refused_and_not_stored(api: Api) -> None:
    d = api.file("mei", "quality_threshold", {"deviation_pct": 3.0})
    _refused(api.post(f"/v1/decisions/{d['id']}/comments", "mei", {"text": f"hi{NUL}"}), "$.text", 400)
    events = api.get(f"/v1/decisions/{d['id']}", "mei").json()["events"]
    assert [e["type"] for e in events] == ["decision_filed"]


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("/v1/decisions?category=a%00b", "$.query.category"),
        ("/v1/decisions?filed_by=%00", "$.query.filed_by"),
        ("/v1/decisions?squad=n%00", "$.query.squad"),
        ("/v1/decisions/d%00x", "$.path.decision_id"),
        ("/v1/log/export?category=%00", "$.query.category"),
    ],
)
def test_control_characters_in_parameters_are_refused(api: Api, url: str, path: str) -> None:
    _refused(api.get(url, "ann" if "export" in url else "mei"), path, 400)


def test_web_list_filters_with_a_nul_are_refused(api: Api) -> None:
    from tests.web.conftest import Browser

    browser = Browser(api.client, api.tokens)
    browser.sign_in("mei")
    r = api.client.get("/decisions?category=a%00b")
    assert r.status_code == 400


# -- hygiene of what is filed --------------------------------------------------------------------


@pytest.mark.parametrize("title", ["   ", "\u3000", "\t"])
def test_blank_titles_are_refused(api: Api, title: str) -> None:
    _refused(api.post("/v1/decisions", "mei", {**TIER2, "title": title}), "$.title", 400)


def test_blank_comments_are_refused(api: Api) -> None:
    d = api.file("mei", "quality_threshold", {"deviation_pct": 3.0})
    _refused(api.post(f"/v1/decisions/{d['id']}/comments", "mei", {"text": "  \n "}), "$.text", 400)


@pytest.mark.parametrize("mark", ["\u202e", "\u2066", "\u200b", "\u200d", "\ufeff", "\u061c"])
def test_titles_that_would_display_as_something_else_are_refused(api: Api, mark: str) -> None:
    _refused(api.post("/v1/decisions", "mei", {**TIER2, "title": f"approve{mark}d"}), "$.title", 400)


def test_duplicate_json_keys_are_refused_naming_the_key(api: Api) -> None:
    raw = b'{"title": "t", "category": "pipeline", "attributes": {"risk_score": 5, "risk_score": 90}}'
    r = api.client.post(
        "/v1/decisions", content=raw, headers=api.headers("mei", **{"Content-Type": "application/json"})
    )
    _refused(r, "$.attributes.risk_score", 400)
    assert api.get("/v1/decisions", "mei").json()["items"] == []


def test_integers_beyond_64_bits_are_refused(api: Api) -> None:
    body = {**TIER2, "attributes": {"deviation_pct": 2**100}}
    _refused(api.post("/v1/decisions", "mei", body), "$.attributes.deviation_pct", 400)


def test_error_paths_name_parameters_as_the_client_wrote_them(api: Api) -> None:
    body = _refused(api.get("/v1/log/proof/consistency?from=0&to=-1", "ann"), "$.query.to", 400)
    assert "second" not in str(body)


@pytest.mark.parametrize(
    ("url", "who"),
    [
        ("/v1/log/export?tier=null", "ann"),
        ("/v1/decisions?tier=null", "mei"),
        # The decision filters are a dependency's arguments (api.filters), not the handlers': still checked.
        ("/v1/decisions?status=null", "mei"),
        ("/v1/decisions/export?tier=null", "ann"),
        # So are the log's (api.filters.export_filter), on each of the three endpoints that take them.
        ("/v1/log/export/proofs?tier=null", "ann"),
        ("/v1/log/bundle?tier=null", "ann"),
    ],
)
def test_null_for_an_integer_parameter_is_refused_not_read_as_absent(api: Api, url: str, who: str) -> None:
    # Litestar reads the word as None, which would answer ?tier=null with every tier.
    name = url.split("?")[1].split("=")[0]
    body = _refused(api.get(url, who), f"$.query.{name}", 400)
    assert "null" in str(body)


def test_a_search_for_the_word_null_is_a_search(api: Api) -> None:
    assert api.post("/v1/decisions", "mei", {**TIER2, "title": "null values in the feed"}).status_code == 201
    found = api.get("/v1/decisions?q=null", "mei")
    assert found.status_code == 200, found.text
    assert [d["title"] for d in found.json()["items"]] == ["null values in the feed"]
