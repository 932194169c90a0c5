"""What the OpenAPI document promises, read the way a client author reads it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.contract.conftest import Live
from tests.support import REPO

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


@pytest.fixture(scope="module")
def document(document_file: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(document_file.read_text())
    return loaded


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, item in document["paths"].items() for method, op in item.items()]


def test_every_error_is_a_problem_and_every_guarded_operation_says_401_403_503(document: dict[str, Any]) -> None:
    for method, path, op in operations(document):
        responses = op["responses"]
        for status, response in responses.items():
            # /healthz's 503 is its status body; /readyz's 503 is a problem with the checks (below).
            if status.startswith(("4", "5")) and (path, status) not in {("/healthz", "503"), ("/readyz", "503")}:
                assert {k: v for k, v in response["content"].items()} == PROBLEM, (method, path, status)
                assert response["description"], (method, path, status)
        if path.startswith("/v1/"):
            assert op["security"] == [{"BearerToken": []}], (method, path)
            assert {"401", "403", "503"} <= set(responses), (method, path)
        if "requestBody" in op:
            assert {"400", "413", "415", "422"} <= set(responses), (method, path)
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            name = schema["$ref"].rsplit("/", 1)[-1]
            assert document["components"]["schemas"][name]["additionalProperties"] is False, name
        if "_id}" in path:  # an id that may name nothing
            assert "404" in responses, (method, path)


def test_the_problem_schema_is_rfc9457_with_field_errors(document: dict[str, Any]) -> None:
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["properties"]) == {"type", "title", "status", "detail", "errors"}
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert problem["properties"]["errors"]["items"] == {"$ref": "#/components/schemas/FieldProblem"}


def test_liveness_needs_no_credentials_and_says_so(document: dict[str, Any]) -> None:
    healthz = document["paths"]["/healthz"]["get"]
    assert healthz["security"] == []
    assert set(healthz["responses"]) == {"200", "405", "503"}
    assert "security" not in document  # no global requirement for /healthz to inherit
    assert set(healthz["responses"]["405"]["headers"]) == {"Allow"}


def test_readiness_is_documented_with_its_problem_and_retry_after(document: dict[str, Any]) -> None:
    readyz = document["paths"]["/readyz"]["get"]
    assert readyz["security"] == []
    assert set(readyz["responses"]) == {"200", "405", "503"}
    unready = readyz["responses"]["503"]
    assert set(unready["headers"]) == {"Retry-After"}
    assert unready["content"] == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/NotReady"}}}
    schemas = document["components"]["schemas"]
    assert set(schemas["NotReady"]["properties"]) == {*schemas["Problem"]["properties"], "checks"}
    assert set(schemas["Readiness"]["properties"]) == {"status", "checks"}


def test_the_document_states_its_licence_truthfully(document: dict[str, Any]) -> None:
    # The repository carries no LICENSE and pyproject.toml names none: no licence is granted.
    assert not (REPO / "LICENSE").exists()
    assert document["info"]["license"] == {
        "name": "Proprietary: no licence is granted",
        "identifier": "LicenseRef-Proprietary",
    }


def test_statuses_litestar_would_leave_out_or_get_wrong(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert "content" not in paths["/v1/delegations/{delegation_id}"]["delete"]["responses"]["204"]
    filing = paths["/v1/decisions"]["post"]["responses"]
    assert filing["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/DecisionView"}
    assert filing["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/DecisionView"}
    consistency = {p["name"]: p for p in paths["/v1/log/proof/consistency"]["get"]["parameters"]}
    assert consistency["to"]["schema"]["minimum"] == 0
    assert consistency["from"]["schema"]["minimum"] == 0
    links = document["components"]["schemas"]["FilingRequest"]["properties"]["links"]["items"]
    assert links["pattern"].startswith("^https?://")


def _media(document: dict[str, Any], path: str, status: str = "200") -> dict[str, Any]:
    content: dict[str, Any] = document["paths"][path]["get"]["responses"][status]["content"]
    return content


def test_every_media_type_a_success_comes_in(document: dict[str, Any]) -> None:
    reports = [
        ("/v1/digests/{kind}", "Digest"),
        ("/v1/metrics/escalations", "EscalationReport"),
        ("/v1/metrics/effect", "EffectReport"),
    ]
    for path, schema in reports:
        media = _media(document, path)
        assert media["application/json"]["schema"] == {"$ref": f"#/components/schemas/{schema}"}
        assert set(media) == {"application/json", "text/markdown", "text/html"}
        assert document["components"]["schemas"][schema]["type"] == "object"
    for path, schema in [("/v1/log/checkpoint", "CheckpointView"), ("/v1/log/public-key", "PublicKeyView")]:
        media = _media(document, path)
        assert media["application/json"]["schema"] == {"$ref": f"#/components/schemas/{schema}"}
        assert set(media) == {"application/json", "text/plain"}
    assert set(_media(document, "/v1/log/export")) == {"application/x-ndjson", "text/csv"}


def test_no_json_answer_is_documented_as_a_bare_string(document: dict[str, Any]) -> None:
    # What Litestar writes for a handler returning Response[bytes]: declare the real type with Variants.
    bare = [
        (method, path, status)
        for method, path, op in operations(document)
        for status, response in op["responses"].items()
        for media, content in (response.get("content") or {}).items()
        if (media == "application/json" or media.endswith("+json")) and content["schema"].get("type") == "string"
    ]
    assert bare == []


def _post(url: str, token: str, body: bytes) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_every_strict_body_refuses_an_unknown_field_and_names_it(document: dict[str, Any], live: Live) -> None:
    strict = [path for method, path, op in operations(document) if "requestBody" in op]
    assert len(strict) >= 9
    for path in strict:
        url = live.url + path.replace("{decision_id}", "dr_nope")
        # As each person in turn: the first one whose role the operation admits gets the body read.
        answers = [_post(url, token, b'{"zz_unknown": 1}') for token in live.tokens.values()]
        status, problem = next(a for a in answers if a[0] != 403)
        assert status == 400, (path, problem)
        assert problem["errors"][0]["path"] == "$.zz_unknown", (path, problem)


def _answer(method: str, url: str, token: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, {}
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_every_operation_refuses_a_query_parameter_it_does_not_declare(document: dict[str, Any], live: Live) -> None:
    # What the refusal lists as accepted is exactly what the document declares: one source, the handler.
    checked = 0
    for method, path, op in operations(document):
        if not path.startswith("/v1/"):
            continue
        declared = sorted(p["name"] for p in op.get("parameters", []) if p["in"] == "query")
        url = live.url + path.replace("{decision_id}", "dr_nope").replace("{delegation_id}", "dl_nope")
        url = url.replace("{kind}", "weekly") + "?zz_unknown=1"
        status, problem = _answer(method, url, live.tokens["adm"])
        assert status == 400, (method, path, status, problem)
        assert [e["path"] for e in problem["errors"]] == ["$.query.zz_unknown"], (method, path, problem)
        message = problem["errors"][0]["message"]
        assert message.startswith(f"not a parameter of {method} {path}"), (method, path, message)
        if declared:
            assert message.endswith("it accepts " + ", ".join(declared)), (method, path, message, declared)
        else:
            assert message.endswith("which takes no query parameters"), (method, path, message)
        assert "400" in op["responses"], (method, path)
        checked += 1
    assert checked >= 30
