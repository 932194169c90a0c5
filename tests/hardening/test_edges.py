"""Headers and media types, HEAD on pages, one problem type per kind, misspelt categories."""

from __future__ import annotations

from email.message import Message
from typing import Any

import pytest

from tests.api.conftest import Api
from tests.web.conftest import Browser


def _params(content_type: str) -> list[tuple[str, str]]:
    """Parse like a strict parser: every parameter once (Go's mime.ParseMediaType refuses duplicates)."""
    message = Message()
    message["content-type"] = content_type
    params = message.get_params() or []
    names = [k.lower() for k, _ in params[1:]]
    assert len(names) == len(set(names)), f"repeated parameter in {content_type!r}"
    return params


def test_no_text_response_repeats_its_charset(api: Api) -> None:
    api.file("mei", "quality_threshold", {"deviation_pct": 3.0})
    api.post("/v1/log/checkpoint", "adm")
    browser = Browser(api.client, api.tokens)
    browser.sign_in("ann")
    responses = [
        api.client.get("/metrics"),
        api.get("/v1/log/export?format=csv", "ann"),
        api.get("/v1/log/checkpoint?format=note", "ann"),
        api.get("/v1/log/public-key?format=text", "ann"),
        api.get("/v1/digests/weekly?format=md", "ann"),
        api.get("/v1/digests/weekly?format=html", "ann"),
        api.get("/v1/metrics/escalations?format=md", "ann"),
        api.client.get("/audit/export/csv"),
        api.client.get("/audit"),
    ]
    for r in responses:
        assert r.status_code == 200, (r.url, r.status_code)
        content_type = r.headers["content-type"]
        if content_type.startswith("text/"):
            assert content_type.lower().count("charset") == 1, (r.url, content_type)
            _params(content_type)


def test_pages_send_the_security_headers(api: Api) -> None:
    browser = Browser(api.client, api.tokens)
    for r in (api.client.get("/login"), api.client.get("/inbox", follow_redirects=False)):
        policy = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
    browser.sign_in("tomas")
    assert "frame-ancestors 'none'" in api.client.get("/inbox").headers["content-security-policy"]
    assert api.get("/v1/inbox", "tomas").headers["x-content-type-options"] == "nosniff"


def test_head_on_pages(api: Api) -> None:
    browser = Browser(api.client, api.tokens)
    assert api.client.head("/login").status_code == 200
    browser.sign_in("tomas")
    for path in ("/inbox", "/decisions", "/digests/weekly"):
        r = api.client.head(path)
        assert r.status_code == 200 and r.content == b"", path
    assert api.client.head("/readyz").status_code == 200


PROBLEM = "urn:decision-rights:problem:"


def test_one_problem_type_per_kind(api: Api) -> None:
    d = api.file("mei", "quality_threshold", {"deviation_pct": 3.0})
    forbidden_by_role = api.post("/v1/log/checkpoint", "mei")  # the guard: wrong role
    forbidden_by_rule = api.post(f"/v1/decisions/{d['id']}/approvals", "mei", {"verdict": "approve"})  # the rules
    assert forbidden_by_role.status_code == forbidden_by_rule.status_code == 403
    assert forbidden_by_role.json()["type"] == forbidden_by_rule.json()["type"] == PROBLEM + "forbidden"
    missing_route = api.get("/v1/nothing-here", "mei")
    missing_decision = api.get("/v1/decisions/no-such-id", "mei")
    assert missing_route.status_code == missing_decision.status_code == 404
    assert missing_route.json()["type"] == missing_decision.json()["type"] == PROBLEM + "not-found"
    bad_json = api.client.post(
        "/v1/decisions", content=b"{not json", headers=api.headers("mei", **{"Content-Type": "application/json"})
    )
    assert bad_json.status_code == 400 and bad_json.json()["type"] == PROBLEM + "invalid-json"
    unauthenticated = api.get("/v1/inbox", None)
    assert unauthenticated.status_code == 401 and unauthenticated.json()["type"] == PROBLEM + "unauthenticated"
    # No bare status numbers as types anywhere.
    for r in (forbidden_by_role, missing_route, bad_json, unauthenticated):
        assert not r.json()["type"].removeprefix(PROBLEM).isdigit()


@pytest.mark.parametrize(("typed", "known"), [("pipline", "pipeline"), ("qualty_threshold", "quality_threshold"),
                                              ("Contract", "contract")])  # fmt: skip
def test_a_misspelt_category_is_refused_with_did_you_mean(api: Api, typed: str, known: str) -> None:
    for route in ("/v1/classify", "/v1/decisions"):
        r = api.post(route, "mei", {"title": "t", "category": typed, "attributes": {}})
        assert r.status_code == 422, r.text
        body: dict[str, Any] = r.json()
        assert body["errors"][0]["path"] == "$.category" and f"did you mean '{known}'" in body["errors"][0]["message"]
    assert api.get("/v1/decisions", "mei").json()["items"] == []


def test_a_genuinely_unknown_category_goes_to_the_unknown_tier_flagged(api: Api) -> None:
    d = api.file("mei", "xylophone_budget", {})
    assert d["tier"] == api.runtime.policies.current.unknown_category_tier
    assert d["explanation"]["known_category"] is False
    inbox = api.get("/v1/inbox", "dana").json()["items"]
    assert any(i["decision"]["id"] == d["id"] and not i["decision"]["explanation"]["known_category"] for i in inbox)


def test_pages_need_no_inline_script(api: Api) -> None:
    """The policy allows script from /static only: an inline handler would silently stop working."""
    import re

    browser = Browser(api.client, api.tokens)
    browser.sign_in("mei")
    for path in ("/new", "/new?category=contract", "/decisions", "/inbox"):
        html = api.client.get(path).text
        assert not re.search(r"\son[a-z]+\s*=", html), path
        assert not re.search(r"<script(?![^>]*\ssrc=)", html), path
