"""Amend, comment, supersede, delegate and break-glass through HTTP: each transition and each refusal."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api

YEAR = {"starts_at": "2020-01-01T00:00:00Z", "ends_at": "2099-01-01T00:00:00Z"}


def _events(api: Api, decision_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = api.get(f"/v1/decisions/{decision_id}", "ann").json()["events"]
    return events


# -- amend -----------------------------------------------------------------------------------------


def test_amend_reclassifies_and_reroutes(api: Api) -> None:
    d = api.file("mei", "quality_threshold", {"deviation_pct": 1.0})
    assert (d["tier"], d["status"]) == (1, "resolved")
    # A resolved decision cannot be amended: a new one supersedes it.
    r = api.post(f"/v1/decisions/{d['id']}/amend", "mei", {"attributes": {"deviation_pct": 9}})
    assert r.status_code == 409, r.text

    d = api.file("mei", "pipeline", {"risk_score": 80})
    assert d["tier"] == 2
    r = api.post(
        f"/v1/decisions/{d['id']}/amend",
        "mei",
        {"attributes": {"risk_score": 10}, "title": "lower risk after review", "reason": "re-scored"},
    )
    assert r.status_code == 200, r.text
    amended = r.json()
    # Tier 1 now: the squad resolves it and nobody waits on it.
    assert (amended["tier"], amended["status"], amended["title"]) == (1, "resolved", "lower risk after review")
    assert api.get("/v1/inbox", "tomas").json()["items"] == []
    last = _events(api, d["id"])[-1]
    assert last["type"] == "decision_amended" and last["data"]["reason"] == "re-scored"


def test_material_amendment_dismisses_approvals_but_keeps_them_in_the_log(api: Api) -> None:
    # The director's quorum needs one approval; use a two-step: tier 2 approved by tomas would close it,
    # so amend between a tier-3 filing and its approval instead, through a reroute to tier 2 and back.
    d = api.file("mei", "quality_threshold", {"deviation_pct": 9.0})
    assert d["tier"] == 2
    r = api.post(f"/v1/decisions/{d['id']}/amend", "mei", {"attributes": {"deviation_pct": 9.0, "affected_clients": 4}})
    assert r.status_code == 200 and r.json()["status"] == "pending"
    # Only the filer may amend.
    r = api.post(f"/v1/decisions/{d['id']}/amend", "jon", {"title": "mine now"})
    assert r.status_code == 403 and "only the filer" in r.json()["detail"]
    # Unknown fields are refused by name, and nothing is written.
    before = len(_events(api, d["id"]))
    r = api.post(f"/v1/decisions/{d['id']}/amend", "mei", {"category": "contract"})
    assert r.status_code == 400 and "category" in r.text
    assert len(_events(api, d["id"])) == before


def test_amend_after_approval_is_refused(api: Api) -> None:
    d = api.file("mei", "pipeline", {"risk_score": 80})
    api.post(f"/v1/decisions/{d['id']}/approvals", "tomas", {"verdict": "approve"})
    r = api.post(f"/v1/decisions/{d['id']}/amend", "mei", {"title": "too late"})
    assert r.status_code == 409 and "approved" in r.json()["detail"]


# -- comments --------------------------------------------------------------------------------------


def test_comments_are_logged_events_and_auditors_stay_read_only(api: Api) -> None:
    d = api.file("mei", "contract", {"change": "scope"})
    r = api.post(f"/v1/decisions/{d['id']}/comments", "tomas", {"text": "client asked for this on Monday"})
    assert r.status_code == 201, r.text
    comment = _events(api, d["id"])[-1]
    assert (comment["type"], comment["actor"], comment["data"]["text"]) == (
        "comment_added",
        "tomas",
        "client asked for this on Monday",
    )
    # Comments on a closed decision are still allowed: the discussion outlives the verdict.
    api.post(f"/v1/decisions/{d['id']}/approvals", "dana", {"verdict": "approve"})
    assert api.post(f"/v1/decisions/{d['id']}/comments", "mei", {"text": "shipped"}).status_code == 201
    assert api.post(f"/v1/decisions/{d['id']}/comments", "ann", {"text": "noted"}).status_code == 403
    r = api.post(f"/v1/decisions/{d['id']}/comments", "mei", {"text": ""})
    assert r.status_code == 400 and "text" in r.text
    assert api.post("/v1/decisions/D-nope/comments", "mei", {"text": "x"}).status_code == 404
    assert api.runtime.service.verify_log().ok


# -- supersede -------------------------------------------------------------------------------------


def test_a_new_decision_supersedes_an_approved_one_when_it_is_approved(api: Api) -> None:
    old = api.file("mei", "pipeline", {"risk_score": 80}, title="v1 of the dedup stage")
    api.post(f"/v1/decisions/{old['id']}/approvals", "tomas", {"verdict": "approve"})
    r = api.post(
        "/v1/decisions",
        "mei",
        {"title": "v2", "category": "pipeline", "attributes": {"risk_score": 85}, "supersedes": old["id"]},
    )
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["supersedes"] == old["id"]
    # Not yet: the old decision stands until the new one is approved.
    assert api.get(f"/v1/decisions/{old['id']}", "mei").json()["status"] == "approved"
    api.post(f"/v1/decisions/{new['id']}/approvals", "priya", {"verdict": "approve"})
    old_now = api.get(f"/v1/decisions/{old['id']}", "mei").json()
    assert old_now["status"] == "superseded" and old_now["superseded_by"] == new["id"]
    assert _events(api, old["id"])[-1]["type"] == "decision_superseded"
    # A superseded or unknown decision cannot be superseded again.
    for target in (old["id"], "D-unknown"):
        r = api.post(
            "/v1/decisions",
            "mei",
            {"title": "v3", "category": "pipeline", "attributes": {"risk_score": 1}, "supersedes": target},
        )
        assert r.status_code == 422 and r.json()["errors"][0]["path"] == "$.supersedes"


def test_a_resolved_tier1_successor_supersedes_at_once(api: Api) -> None:
    old = api.file("mei", "reporting_format", {})
    r = api.post(
        "/v1/decisions",
        "jon",
        {"title": "new format", "category": "reporting_format", "attributes": {}, "supersedes": old["id"]},
    )
    assert r.json()["status"] == "resolved"
    assert api.get(f"/v1/decisions/{old['id']}", "mei").json()["status"] == "superseded"


# -- delegation ------------------------------------------------------------------------------------


def test_delegation_lets_a_named_person_sign_and_the_log_says_so(api: Api) -> None:
    r = api.post("/v1/delegations", "tomas", {"delegate": "ravi", "role": "tech_pm", **YEAR})
    assert r.status_code == 201, r.text
    grant = r.json()
    assert (grant["delegator"], grant["delegate"], grant["revoked"]) == ("tomas", "ravi", False)
    # Visible to both.
    assert [g["id"] for g in api.get("/v1/delegations", "ravi").json()] == [grant["id"]]
    assert [g["id"] for g in api.get("/v1/delegations", "tomas").json()] == [grant["id"]]

    d = api.file("mei", "pipeline", {"risk_score": 80})
    inbox = api.get("/v1/inbox", "ravi").json()["items"]
    assert [(i["decision"]["id"], i["on_behalf_of"]) for i in inbox] == [(d["id"], "tomas")]
    r = api.post(f"/v1/decisions/{d['id']}/approvals", "ravi", {"verdict": "approve"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"
    approval = r.json()["approvals"][0]
    assert (approval["approver"], approval["on_behalf_of"]) == ("ravi", "tomas")
    event = _events(api, d["id"])[-1]
    assert event["actor"] == "ravi" and event["data"]["on_behalf_of"] == "tomas"


def test_a_delegate_never_signs_their_own_decision(api: Api) -> None:
    api.post("/v1/delegations", "tomas", {"delegate": "ravi", "role": "tech_pm", **YEAR})
    d = api.file("ravi", "pipeline", {"risk_score": 80})
    r = api.post(f"/v1/decisions/{d['id']}/approvals", "ravi", {"verdict": "approve"})
    assert r.status_code == 403 and "filed" in r.json()["detail"]
    assert api.get(f"/v1/decisions/{d['id']}", "ravi").json()["status"] == "pending"


def test_delegation_refusals(api: Api) -> None:
    # One level only: ravi holds tech_pm by delegation, not in his own right.
    api.post("/v1/delegations", "tomas", {"delegate": "ravi", "role": "tech_pm", **YEAR})
    r = api.post("/v1/delegations", "ravi", {"delegate": "lena", "role": "tech_pm", **YEAR})
    assert r.status_code == 403  # the guard: a squad member holds no approver role
    r = api.post("/v1/delegations", "priya", {"delegate": "priya", "role": "tech_pm", **YEAR})
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "$.delegate"
    r = api.post("/v1/delegations", "priya", {"delegate": "nobody", "role": "tech_pm", **YEAR})
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "$.delegate"
    r = api.post("/v1/delegations", "priya", {"delegate": "lena", "role": "director", **YEAR})
    assert r.status_code == 403 and "does not hold director" in r.json()["detail"]
    r = api.post(
        "/v1/delegations",
        "priya",
        {"delegate": "lena", "role": "tech_pm", "starts_at": "2026-02-01T00:00:00Z", "ends_at": "2026-01-01T00:00:00Z"},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "$.ends_at"
    r = api.post("/v1/delegations", "priya", {"delegate": "lena", "role": "tech_pm", "starts_at": "soon"})
    assert r.status_code == 400


def test_expired_and_revoked_delegations_stop_working(api: Api) -> None:
    expired = {"starts_at": "2020-01-01T00:00:00Z", "ends_at": "2020-02-01T00:00:00Z"}
    api.post("/v1/delegations", "tomas", {"delegate": "lena", "role": "tech_pm", **expired})
    d = api.file("mei", "pipeline", {"risk_score": 80})
    assert api.get("/v1/inbox", "lena").json()["items"] == []
    assert api.post(f"/v1/decisions/{d['id']}/approvals", "lena", {"verdict": "approve"}).status_code == 403

    grant = api.post("/v1/delegations", "tomas", {"delegate": "lena", "role": "tech_pm", **YEAR}).json()
    assert len(api.get("/v1/inbox", "lena").json()["items"]) == 1
    # Only the delegator may revoke.
    assert api.client.delete(f"/v1/delegations/{grant['id']}", headers=api.headers("priya")).status_code == 403
    assert api.client.delete(f"/v1/delegations/{grant['id']}", headers=api.headers("tomas")).status_code == 204
    assert api.client.delete("/v1/delegations/G-none", headers=api.headers("tomas")).status_code == 404
    assert api.get("/v1/inbox", "lena").json()["items"] == []
    assert api.post(f"/v1/decisions/{d['id']}/approvals", "lena", {"verdict": "approve"}).status_code == 403
    types = [e["type"] for e in api.runtime.service.iter_event_rows()]
    assert types.count("delegation_granted") == 2 and types.count("delegation_revoked") == 1


# -- break-glass -----------------------------------------------------------------------------------


def test_break_glass_on_tier2_then_ratified(api: Api) -> None:
    d = api.file("mei", "pipeline", {"risk_score": 80})
    r = api.post(f"/v1/decisions/{d['id']}/proceed", "mei", {"reason": ""})
    assert r.status_code == 400 and "reason" in r.text
    r = api.post(f"/v1/decisions/{d['id']}/proceed", "jon", {"reason": "the client deadline is tonight"})
    assert r.status_code == 403 and "only the filer" in r.json()["detail"]
    r = api.post(f"/v1/decisions/{d['id']}/proceed", "mei", {"reason": "the client deadline is tonight"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["break_glass_reason"]) == (
        "proceeded_pending_review",
        "the client deadline is tonight",
    )
    # It stays in every approver's inbox until reviewed after the fact.
    for approver in ("tomas", "priya"):
        assert [i["decision"]["id"] for i in api.get("/v1/inbox", approver).json()["items"]] == [d["id"]]
    listed = api.get("/v1/decisions?status=proceeded_pending_review", "dana").json()["items"]
    assert [x["id"] for x in listed] == [d["id"]]
    # Cannot be withdrawn or proceeded twice.
    assert api.post(f"/v1/decisions/{d['id']}/withdraw", "mei", {}).status_code == 409
    assert api.post(f"/v1/decisions/{d['id']}/proceed", "mei", {"reason": "again"}).status_code == 409
    r = api.post(f"/v1/decisions/{d['id']}/approvals", "priya", {"verdict": "approve", "reason": "ratified"})
    assert r.json()["status"] == "approved"
    assert api.get("/v1/inbox", "tomas").json()["items"] == []


def test_break_glass_rejected_after_the_fact(api: Api) -> None:
    d = api.file("mei", "pipeline", {"risk_score": 80})
    api.post(f"/v1/decisions/{d['id']}/proceed", "mei", {"reason": "outage"})
    r = api.post(f"/v1/decisions/{d['id']}/approvals", "tomas", {"verdict": "reject", "reason": "roll it back"})
    assert r.json()["status"] == "rejected"


def test_break_glass_is_refused_where_the_policy_does_not_allow_it(api: Api) -> None:
    d = api.file("mei", "contract", {"change": "scope"})  # tier 3: not allowed by default
    r = api.post(f"/v1/decisions/{d['id']}/proceed", "mei", {"reason": "the client is waiting"})
    assert r.status_code == 403 and "tier 3" in r.json()["detail"]
    assert api.get(f"/v1/decisions/{d['id']}", "mei").json()["status"] == "pending"
    tier1 = api.file("mei", "reporting_format", {})
    assert api.post(f"/v1/decisions/{tier1['id']}/proceed", "mei", {"reason": "x"}).status_code == 409
