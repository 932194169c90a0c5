"""Bad input gets a clear 4xx problem naming the field; never a 500, never a write."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)

GOOD = {"title": "t", "category": "quality_threshold", "attributes": {"deviation_pct": 1.0}}


def _problem(response, status: int, path: str | None = None) -> dict:  # type: ignore[no-untyped-def,type-arg]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    if path is not None:
        assert path in [e["path"] for e in body["errors"]], body
    return body  # type: ignore[no-any-return]


CASES = [
    ("missing title", {"category": "pipeline"}, 400, "$.title"),
    ("wrong type", {**GOOD, "title": 5}, 400, "$.title"),
    ("unknown field", {**GOOD, "colour": "red"}, 400, "$.colour"),
    ("empty title", {**GOOD, "title": ""}, 400, "$.title"),
    ("attribute type", {**GOOD, "attributes": {"deviation_pct": "high"}}, 422, "$.attributes.deviation_pct"),
    ("attribute missing", {**GOOD, "attributes": {}}, 422, "$.attributes.deviation_pct"),
    ("attribute unknown", {**GOOD, "attributes": {"deviation_pct": 1, "x": 1}}, 422, "$.attributes.x"),
    (
        "out of range",
        {"title": "t", "category": "pipeline", "attributes": {"risk_score": 101}},
        422,
        "$.attributes.risk_score",
    ),
    ("bool is no number", {**GOOD, "attributes": {"deviation_pct": True}}, 422, "$.attributes.deviation_pct"),
    ("bad link", {**GOOD, "links": ["javascript:alert(1)"]}, 400, "$.links[0]"),
]


@pytest.mark.parametrize(("body", "status", "path"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_bodies_name_the_field(api: Api, body: dict, status: int, path: str) -> None:  # type: ignore[type-arg]
    _problem(api.post("/v1/decisions", "mei", body), status, path)
    assert api.get("/v1/decisions", "ann").json()["items"] == []


RAW = [
    ("invalid json", b"{not json", 400),
    ("NaN", b'{"title":"t","category":"quality_threshold","attributes":{"deviation_pct":NaN}}', 400),
    ("huge number", b'{"title":"t","category":"gpu","attributes":{"n":1e999}}', 400),
    ("invalid utf-8", b'{"title":"\xff\xfe","category":"x"}', 400),
    ("deep json", b'{"title":"t","category":"x","attributes":{"a":' + b"[" * 5000 + b"]" * 5000 + b"}}", 400),
    ("huge integer", b'{"title":"t","category":"x","attributes":{"a":' + b"9" * 400 + b"}}", 400),
]


@pytest.mark.parametrize(("raw", "status"), [c[1:] for c in RAW], ids=[c[0] for c in RAW])
def test_malformed_json_is_a_400(api: Api, raw: bytes, status: int) -> None:
    r = api.client.post(
        "/v1/decisions", content=raw, headers=api.headers("mei", **{"Content-Type": "application/json"})
    )
    assert r.status_code < 500, r.text
    _problem(r, status)
    assert api.get("/v1/decisions", "ann").json()["items"] == []


def test_oversized_bodies_are_413(api: Api) -> None:
    body = {**GOOD, "rationale": "x" * 200_000}
    _problem(api.post("/v1/decisions", "mei", body), 413)


def test_wrong_content_type_is_415(api: Api) -> None:
    r = api.client.post(
        "/v1/decisions",
        content=b"title=t",
        headers=api.headers("mei", **{"Content-Type": "application/x-www-form-urlencoded"}),
    )
    _problem(r, 415)


@pytest.mark.parametrize("key", ["x" * 201, "line\r\nbreak", "tab\there", "ünïcode"])
def test_bad_idempotency_keys_are_refused(api: Api, key: str) -> None:
    try:
        r = api.post("/v1/decisions", "mei", GOOD, headers={"Idempotency-Key": key})
    except Exception:  # the HTTP client itself refuses header injection: nothing reached the server
        assert "\n" in key or "ü" in key
        return
    _problem(r, 400, "$.header.Idempotency-Key")


def test_unknown_decision_is_404_and_bad_verdict_names_the_field(api: Api) -> None:
    _problem(api.get("/v1/decisions/D0000", "ann"), 404)
    d = api.file("mei", "pipeline", {"risk_score": 50})
    _problem(api.post(f"/v1/decisions/{d['id']}/approvals", "tomas", {"verdict": "maybe"}), 400, "$.verdict")


def test_auditors_cannot_write(api: Api) -> None:
    _problem(api.post("/v1/decisions", "ann", GOOD), 403)
    d = api.file("mei", "pipeline", {"risk_score": 50})
    _problem(api.post(f"/v1/decisions/{d['id']}/approvals", "ann", {"verdict": "approve"}), 403)
    _problem(api.post(f"/v1/decisions/{d['id']}/withdraw", "ann", {}), 403)
