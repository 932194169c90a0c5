"""A query parameter the operation does not declare is a 400 naming it, never a filter silently dropped.

`GET /v1/decisions?catgory=contract` used to answer the whole list with 200. Every declared parameter,
read from the OpenAPI document (so an operation or parameter added later is covered without listing
it here), is still accepted.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)

LIST_PARAMETERS = "category, cursor, filed_by, limit, q, since, sort, squad, status, tier, until"


def _refused(response: Any, name: str) -> dict[str, Any]:
    """A 400 problem naming `$.query.<name>` (as the client wrote it) and nothing else."""
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"] == "urn:decision-rights:problem:validation"
    assert [e["path"] for e in body["errors"]] == [f"$.query.{name}"], body
    assert f"$.query.{name}" in body["detail"]
    return body


def _pending_for_tomas(api: Api, n: int = 2) -> list[str]:
    """Decisions a tech PM must sign (tier 2 pipeline changes), so lists and his inbox have pages."""
    return [api.file("mei", "pipeline", {"risk_score": 80}, title=f"pipeline {i}")["id"] for i in range(n)]


def test_a_misspelled_filter_on_the_list_is_refused_not_ignored(api: Api) -> None:
    _pending_for_tomas(api)
    api.file("jon", "quality_threshold", {"deviation_pct": 1.0}, title="other")
    assert len(api.get("/v1/decisions", "ann").json()["items"]) == 3
    body = _refused(api.get("/v1/decisions", "ann", params={"catgory": "contract"}), "catgory")
    message = body["errors"][0]["message"]
    assert "GET /v1/decisions" in message and "did you mean category?" in message
    assert message.endswith(f"it accepts {LIST_PARAMETERS}")
    # A hyphen for an underscore is the same mistake: named, with the parameter meant.
    dashed = _refused(api.get("/v1/decisions", "ann", params={"filed-by": "jon"}), "filed-by")
    assert "did you mean filed_by?" in dashed["detail"]
    # Beside a correct filter, the wrong one still refuses the whole request.
    _refused(api.get("/v1/decisions", "ann", params={"status": "pending", "Tier": "2"}), "Tier")
    assert len(api.get("/v1/decisions", "ann", params={"filed_by": "jon"}).json()["items"]) == 1


def test_the_inbox_export_digest_and_the_cli_s_gate_refuse_one_too(api: Api) -> None:
    decision = _pending_for_tomas(api, 1)[0]
    _refused(api.get("/v1/inbox", "tomas", params={"sortby": "due"}), "sortby")
    assert api.get("/v1/inbox", "tomas", params={"sort": "due"}).status_code == 200
    export = _refused(api.get("/v1/decisions/export", "ann", params={"categroy": "pipeline"}), "categroy")
    assert "did you mean category?" in export["detail"]
    _refused(api.get("/v1/log/export", "ann", params={"fromat": "csv"}), "fromat")
    digest = _refused(api.get("/v1/digests/weekly", "dana", params={"fromat": "md"}), "fromat")
    assert digest["errors"][0]["message"] == (
        "not a parameter of GET /v1/digests/{kind} (did you mean format?); it accepts date, format"
    )
    # `decisions gate ID` asks this; the gate takes no parameter at all, so no flag can pass unread.
    gate = _refused(api.get(f"/v1/decisions/{decision}/gate", "mei", params={"strict": "1"}), "strict")
    assert gate["errors"][0]["message"] == (
        "not a parameter of GET /v1/decisions/{decision_id}/gate, which takes no query parameters"
    )
    assert api.get(f"/v1/decisions/{decision}/gate", "mei").json()["pass"] is False


def test_every_unknown_parameter_is_named_and_writes_are_refused_too(api: Api) -> None:
    response = api.get("/v1/decisions", "ann", params={"catgory": "a", "stauts": "pending", "tier": 2})
    assert response.status_code == 400
    assert [e["path"] for e in response.json()["errors"]] == ["$.query.catgory", "$.query.stauts"]
    # A write refuses before it does anything: nothing is filed.
    body = {"title": "t", "category": "pipeline", "attributes": {"risk_score": 5}}
    _refused(api.post("/v1/decisions", "mei", body, params={"dry_run": "1"}), "dry_run")
    assert api.get("/v1/decisions", "ann").json()["items"] == []
    # The handler's argument name is not the parameter's: `?second=` is not `?to=`.
    _refused(api.get("/v1/log/proof/consistency", "ann", params={"from": 0, "second": 1}), "second")
    # Refused before the token is even looked at: the names are public (the OpenAPI document).
    assert api.client.get("/v1/decisions", params={"catgory": "x"}).status_code == 400


def test_a_parameter_given_twice_is_refused(api: Api) -> None:
    # One value would be used and the other dropped without a word: `status` is not a list.
    response = api.get("/v1/decisions", "ann", params=[("status", "pending"), ("status", "approved")])
    body = _refused(response, "status")
    assert body["errors"][0]["message"] == "given 2 times; it takes one value"
    _refused(api.get("/v1/decisions", "ann", params=[("limit", "5"), ("limit", "6")]), "limit")


def test_null_for_a_renamed_integer_parameter_is_refused(api: Api) -> None:
    # `to` is the argument `second`: the null check used to look for `?second=null` and let `?to=null` mean
    # "the whole log".
    _pending_for_tomas(api, 1)
    _refused(api.get("/v1/log/proof/consistency", "ann", params={"from": 0, "to": "null"}), "to")
    assert api.get("/v1/log/proof/consistency", "ann", params={"from": 0, "to": 1}).status_code == 200


def test_probes_and_metrics_tolerate_cache_busters(api: Api) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert api.client.get(path, params={"_": "1712345678", "cb": "x"}).status_code == 200, path
    assert api.client.head("/healthz", params={"_": "1"}).status_code == 200


#: Tried in turn until one may call the operation: a tech PM (he has an inbox), an auditor (the log), an admin.
CALLERS = ("tomas", "ann", "adm")


def _samples(name: str, schema: dict[str, Any], cursors: dict[str, str]) -> list[str]:
    """Values of a parameter that its schema admits: every enum value, else one of its type."""
    if "enum" in schema:
        return [str(v) for v in schema["enum"]]
    if "const" in schema:
        return [str(schema["const"])]
    if schema.get("type") == "integer":
        return [str(int(schema.get("minimum", 1)))]
    if schema.get("format") == "date-time":
        return ["2026-03-02T09:00:00Z"]
    if schema.get("format") == "date":
        return ["2026-03-02"]
    if name == "cursor":
        return [cursors[name]]
    return ["pipeline"]


def _call(api: Api, path: str, params: dict[str, str]) -> Any:
    for who in CALLERS:
        response = api.get(path, who, params=params)
        if response.status_code != 403:
            return response
    raise AssertionError(f"no one of {CALLERS} may call GET {path}")


def test_every_declared_parameter_of_every_get_operation_is_accepted(api: Api) -> None:
    decision = _pending_for_tomas(api, 3)[0]
    assert api.post("/v1/log/checkpoint", "adm").status_code == 201  # the checkpoint and proofs have one to show
    document = api.client.get("/schema/openapi.json").json()
    checked: list[tuple[str, str, str]] = []
    for template, item in document["paths"].items():
        operation = item.get("get")
        if not template.startswith("/v1/") or operation is None:
            continue
        parameters = operation.get("parameters", [])
        path = template
        for p in parameters:
            if p["in"] == "path":
                value = decision if p["name"] == "decision_id" else _samples(p["name"], p["schema"], {})[0]
                path = path.replace("{" + p["name"] + "}", value)
        query = [p for p in parameters if p["in"] == "query"]
        required = {p["name"]: _samples(p["name"], p["schema"], {})[0] for p in query if p.get("required")}
        cursors = {}
        if any(p["name"] == "cursor" for p in query):
            # A real cursor of this operation: its first page of one.
            cursors["cursor"] = _call(api, path, {**required, "limit": "1"}).json()["next_cursor"]
            assert cursors["cursor"], template
        for p in query:
            for value in _samples(p["name"], p["schema"], cursors):
                response = _call(api, path, {**required, p["name"]: value})
                assert 200 <= response.status_code < 300, (template, p["name"], value, response.text[:300])
                checked.append((template, p["name"], value))
    names = {(template, name) for template, name, _ in checked}
    assert len(names) >= 51, sorted(names)  # the 51 query parameters the document lists today, and later ones
    assert ("/v1/decisions", "catgory") not in names
