"""Replaying, with the same Idempotency-Key and body, the requests that approved a `policy` decision activates
nothing a second time and appends no event, even once a later decision has activated another version (a
replay that re-ran the activation would quietly bring the older version back). On SQLite and PostgreSQL.

Only filing keeps Idempotency-Keys (engine.commands `filing_work`: a replay returns the decision filed, as it
is now, with 200). The approvals endpoint keeps none: a replayed verdict is decided again by the rules, and a
closed decision takes no verdict (409).
"""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api

BOUND = "pipeline_risk_max: 30"


def _events(api: Api) -> list[tuple[int, str]]:
    return [(row["seq"], row["type"]) for row in api.runtime.service.iter_event_rows()]


def _candidate(api: Api, bound: int) -> str:
    text = api.runtime.policies.path.read_text(encoding="utf-8")
    assert text.count(BOUND) == 1
    response = api.post("/v1/policy/candidates", "adm", {"content": text.replace(BOUND, f"pipeline_risk_max: {bound}")})
    assert response.status_code == 201, response.text
    version: str = response.json()["version"]
    return version


def _file_and_approve(api: Api, version: str, key: str) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    body = {"title": f"activate {version[:8]}", "category": "policy", "attributes": {"candidate_version": version}}
    headers = {"Idempotency-Key": f"file-{key}"}
    filed = api.post("/v1/decisions", "adm", body, headers=headers)
    assert filed.status_code == 201, filed.text
    assert filed.json()["status"] == "pending" and filed.json()["tier"] == 3
    decision = filed.json()["id"]
    approved = api.post(
        f"/v1/decisions/{decision}/approvals",
        "dana",
        {"verdict": "approve", "reason": "agreed"},
        headers={"Idempotency-Key": f"approve-{key}"},
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    return body, headers, approved.json()


def test_replaying_the_requests_that_approved_a_policy_decision_activates_nothing_again(api: Api) -> None:
    first = _candidate(api, 35)
    body, filing_key, approved = _file_and_approve(api, first, "a")
    decision = approved["id"]
    assert api.get("/v1/policy", "ann").json()["version"] == first
    # A later decision activates another version.
    second = _candidate(api, 40)
    _file_and_approve(api, second, "b")
    assert api.get("/v1/policy", "ann").json()["version"] == second
    events = _events(api)
    versions = api.get("/v1/policy/versions", "ann").json()
    assert [(v["version"], v["decision_id"]) for v in versions[1:]] == [
        (first, decision),
        (second, versions[2]["decision_id"]),
    ]

    replayed = api.post(
        f"/v1/decisions/{decision}/approvals",
        "dana",
        {"verdict": "approve", "reason": "agreed"},
        headers={"Idempotency-Key": "approve-a"},
    )
    assert replayed.status_code == 409, replayed.text
    assert f"decision {decision} is already approved" in replayed.json()["detail"]
    refiled = api.post("/v1/decisions", "adm", body, headers=filing_key)
    assert refiled.status_code == 200, refiled.text
    assert (refiled.json()["id"], refiled.json()["status"]) == (decision, "approved")

    assert _events(api) == events
    assert api.get("/v1/policy/versions", "ann").json() == versions
    assert api.get("/v1/policy", "ann").json()["version"] == second
    assert api.runtime.policies.current.version == second
    assert api.runtime.service.verify_log().ok
