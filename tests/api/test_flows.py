"""The whole flow for each tier, through HTTP, on both backends."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api


def test_tier1_is_resolved_by_the_squad_at_filing(api: Api) -> None:
    d = api.file("mei", "quality_threshold", {"deviation_pct": 1.5})
    assert (d["tier"], d["status"]) == (1, "resolved")
    assert d["route"]["role"] is None and d["route"]["count"] == 0 and d["route"]["approvers"] == []
    assert d["explanation"]["matched_rules"] == []
    assert d["explanation"]["policy_version"] == api.runtime.policies.current.version
    # Nothing to approve: a tech PM gets a conflict, not a silent success.
    r = api.post(f"/v1/decisions/{d['id']}/approvals", "tomas", {"verdict": "approve"})
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")


def test_tier2_waits_for_a_tech_pm_who_is_not_the_filer(api: Api) -> None:
    d = api.file("mei", "quality_threshold", {"deviation_pct": 1.0, "affected_clients": 3})
    assert (d["tier"], d["status"]) == (2, "pending")
    assert [r["id"] for r in d["explanation"]["matched_rules"]] == ["cross-client"]
    assert d["route"]["role"] == "tech_pm" and d["route"]["approvers"] == ["priya", "tomas"]
    inbox = api.get("/v1/inbox", "tomas").json()["items"]
    assert [item["decision"]["id"] for item in inbox] == [d["id"]]
    assert api.get("/v1/inbox", "dana").json()["items"] == []  # a director does not hold tier-2 sign-offs
    r = api.post(f"/v1/decisions/{d['id']}/approvals", "tomas", {"verdict": "approve", "reason": "ok"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"
    assert r.json()["approvals"][0]["approver"] == "tomas"
    detail = api.get(f"/v1/decisions/{d['id']}", "ann").json()
    assert [e["type"] for e in detail["events"]] == ["decision_filed", "approval_recorded"]
    assert detail["events"][1]["actor"] == "tomas"
    assert api.get("/v1/inbox", "tomas").json()["items"] == []


def test_tier3_goes_to_the_director_and_a_tech_pm_cannot_sign_it(api: Api) -> None:
    d = api.file("ravi", "contract", {"change": "scope"})
    assert (d["tier"], d["status"], d["route"]["role"]) == (3, "pending", "director")
    r = api.post(f"/v1/decisions/{d['id']}/approvals", "tomas", {"verdict": "approve"})
    assert r.status_code == 403
    assert "director" in r.json()["detail"]
    r = api.post(f"/v1/decisions/{d['id']}/approvals", "dana", {"verdict": "approve"})
    assert r.json()["status"] == "approved"
    r = api.post(f"/v1/decisions/{d['id']}/approvals", "dana", {"verdict": "reject", "reason": "late"})
    assert r.status_code == 409


def test_rejection_needs_a_reason_and_is_final(api: Api) -> None:
    d = api.file("jon", "domain", {"change": "new_category", "domain": "safety"})
    assert d["tier"] == 2
    r = api.post(f"/v1/decisions/{d['id']}/approvals", "priya", {"verdict": "reject"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"] == "$.reason"
    r = api.post(f"/v1/decisions/{d['id']}/approvals", "priya", {"verdict": "reject", "reason": "no rubric yet"})
    assert r.json()["status"] == "rejected"
    r = api.post(f"/v1/decisions/{d['id']}/withdraw", "jon", {})
    assert r.status_code == 409


def test_only_the_filer_withdraws_and_only_while_pending(api: Api) -> None:
    d = api.file("mei", "pipeline", {"risk_score": 80})
    assert api.post(f"/v1/decisions/{d['id']}/withdraw", "jon", {}).status_code == 403
    r = api.post(f"/v1/decisions/{d['id']}/withdraw", "mei", {"reason": "superseded by a safer plan"})
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert api.post(f"/v1/decisions/{d['id']}/approvals", "tomas", {"verdict": "approve"}).status_code == 409


def test_the_filer_never_approves_their_own_decision(api: Api) -> None:
    d = api.file("tomas", "annotator_tier", {"annotator": "a17", "from_tier": "junior", "to_tier": "senior"})
    assert d["tier"] == 2 and d["route"]["approvers"] == ["priya"]
    r = api.post(f"/v1/decisions/{d['id']}/approvals", "tomas", {"verdict": "approve"})
    assert r.status_code == 403
    assert "you filed this decision" in r.json()["detail"]
    assert api.get("/v1/inbox", "tomas").json()["items"] == []
    assert api.post(f"/v1/decisions/{d['id']}/approvals", "priya", {"verdict": "approve"}).json()["status"] == (
        "approved"
    )


def test_unknown_categories_fail_closed_to_the_director(api: Api) -> None:
    d = api.file("mei", "gpu_budget", {"usd": 12000})
    assert d["tier"] == 3 and d["route"]["role"] == "director"
    assert d["explanation"]["known_category"] is False


def test_classify_stores_nothing(api: Api) -> None:
    body = {"title": "t", "category": "pipeline", "attributes": {"risk_score": 31}}
    r = api.post("/v1/classify", "ann", body)
    assert r.status_code == 200
    assert r.json()["tier"] == 2 and r.json()["explanation"]["matched_rules"][0]["id"]
    assert api.get("/v1/decisions", "ann").json()["items"] == []


def test_idempotent_replay_returns_the_same_decision(api: Api) -> None:
    body = {"title": "t", "category": "pipeline", "attributes": {"risk_score": 5}}
    first = api.post("/v1/decisions", "mei", body, headers={"Idempotency-Key": "abc-1"})
    again = api.post("/v1/decisions", "mei", body, headers={"Idempotency-Key": "abc-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    changed = api.post("/v1/decisions", "mei", {**body, "title": "other"}, headers={"Idempotency-Key": "abc-1"})
    assert changed.status_code == 409
    # Keys are per person: another filer may use the same key.
    assert api.post("/v1/decisions", "jon", body, headers={"Idempotency-Key": "abc-1"}).status_code == 201
    assert len(api.get("/v1/decisions", "ann").json()["items"]) == 2


def test_cursor_pagination_walks_every_decision_once(api: Api) -> None:
    ids = {api.file("mei", "reporting_format", {}, title=f"d{i}")["id"] for i in range(7)}
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/decisions", "ann", params=params).json()
        seen += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7 and set(seen) == ids
    assert api.get("/v1/decisions", "ann", params={"cursor": "garbage!"}).status_code == 422


def test_filters(api: Api) -> None:
    api.file("mei", "pipeline", {"risk_score": 90})
    api.file("ravi", "pipeline", {"risk_score": 10})
    pending = api.get("/v1/decisions", "ann", params={"status": "pending"}).json()["items"]
    assert [d["filed_by"] for d in pending] == ["mei"]
    atlas = api.get("/v1/decisions", "ann", params={"squad": "atlas"}).json()["items"]
    assert [d["filed_by"] for d in atlas] == ["ravi"]
    assert api.get("/v1/decisions", "ann", params={"tier": 2}).json()["items"][0]["filed_by"] == "mei"
    r = api.get("/v1/decisions", "ann", params={"tier": 9})
    assert r.status_code == 400 and r.json()["errors"][0]["path"] == "$.query.tier"


def test_policy_and_log_verify(api: Api) -> None:
    policy = api.get("/v1/policy", "mei").json()
    assert policy["version"] == api.runtime.policies.current.version
    quality = next(c for c in policy["categories"] if c["name"] == "quality_threshold")
    assert {f["name"] for f in quality["fields"]} == {"deviation_pct", "affected_clients"}
    api.file("mei", "pipeline", {"risk_score": 90})
    verify = api.get("/v1/log/verify", "ann").json()
    assert verify["ok"] is True and verify["size"] == 2
    assert api.get("/healthz", None).json()["status"] == "ok"


def test_governed_activation_over_http(api: Api) -> None:
    text = (api.runtime.policies.path).read_text().replace("quality_bound_pct: 2.0", "quality_bound_pct: 1.0")
    api.file("mei", "quality_threshold", {"deviation_pct": 1.5})
    sim = api.post("/v1/policy/simulate", "adm", {"content": text})
    assert sim.status_code == 200, sim.text
    assert sim.json()["matrix"] == {"1": {"2": 1}}
    assert api.post("/v1/policy/simulate", "tomas", {"content": text}).status_code == 403
    bad = api.post("/v1/policy/candidates", "adm", {"content": "version: 1\ntimezone: Nowhere/Else\n"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"].startswith("candidate.yaml:")
    candidate = api.post("/v1/policy/candidates", "adm", {"content": text}).json()
    d = api.file("adm", "policy", {"candidate_version": candidate["version"], "summary": "1 decision moves"})
    assert d["tier"] == 3
    assert api.get("/v1/policy", "mei").json()["version"] != candidate["version"]
    assert api.post(f"/v1/decisions/{d['id']}/approvals", "dana", {"verdict": "approve"}).status_code == 200
    assert api.get("/v1/policy", "mei").json()["version"] == candidate["version"]
    versions = api.get("/v1/policy/versions", "ann").json()
    assert [v["active"] for v in versions] == [False, True] and versions[-1]["decision_id"] == d["id"]


def test_the_inbox_answers_pages_oldest_first(api: Api) -> None:
    filed = [api.file("mei", "pipeline", {"risk_score": 80}, title=f"pipeline {i}")["id"] for i in range(5)]
    api.file("tomas", "pipeline", {"risk_score": 80})  # his own: never in his inbox
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/inbox", "tomas", params=params).json()
        assert len(page["items"]) <= 2
        seen += [i["decision"]["id"] for i in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert (seen, pages) == (filed, 3)
    # A squad member has nothing to sign: an empty page, no cursor.
    assert api.get("/v1/inbox", "jon").json() == {"items": [], "next_cursor": None}
    bad = api.get("/v1/inbox", "tomas", params={"cursor": "not-ours"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert api.get("/v1/inbox", "tomas", params={"limit": 0}).status_code in (400, 422)


def test_the_inbox_sorts_oldest_newest_or_by_tier_each_with_its_own_cursor(api: Api) -> None:
    clock = api.runtime.service.clock
    filed = []  # (title, tier), in filing order
    for title, category, attributes, tier in [
        ("p1", "pipeline", {"risk_score": 80}, 2),
        ("c1", "contract", {"change": "scope"}, 3),
        ("p2", "pipeline", {"risk_score": 90}, 2),
        ("c2", "contract", {"change": "term"}, 3),
        ("p3", "pipeline", {"risk_score": 70}, 2),
    ]:
        assert api.file("mei", category, attributes, title=title)["tier"] == tier
        filed.append((title, tier))
        clock.advance(hours=1)  # type: ignore[attr-defined]
    clock.advance(days=4)  # type: ignore[attr-defined]  # the tier-2 ones are overdue: they escalate to the director
    assert api.file("jon", "contract", {"change": "pricing"}, title="c3")["tier"] == 3
    filed.append(("c3", 3))

    def walk(who: str, sort: str | None) -> list[str]:
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {
                "limit": 2,
                **({"sort": sort} if sort else {}),
                **({"cursor": cursor} if cursor else {}),
            }
            page = api.get("/v1/inbox", who, params=params)
            assert page.status_code == 200, page.text
            assert len(page.json()["items"]) <= 2
            seen += [i["decision"]["title"] for i in page.json()["items"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                return seen

    everything = [t for t, _ in filed]
    assert walk("dana", None) == walk("dana", "oldest") == everything
    assert walk("dana", "newest") == everything[::-1]
    # Highest tier first, the longest wait first within a tier.
    assert walk("dana", "tier") == ["c1", "c2", "c3", "p1", "p2", "p3"]
    assert walk("tomas", "tier") == walk("tomas", "oldest") == ["p1", "p2", "p3"]
    # Due soonest first: filing time plus the tier's SLA (3 days for tier 2, 5 for tier 3).
    assert walk("dana", "due") == ["p1", "p2", "p3", "c1", "c2", "c3"]
    # A cursor belongs to its sort: any other refuses it, naming the field.
    cursors = {
        sort: api.get("/v1/inbox", "dana", params={"limit": 1, "sort": sort}).json()["next_cursor"]
        for sort in ("oldest", "newest", "tier", "due")
    }
    for issued, cursor in cursors.items():
        for sort in {"oldest", "newest", "tier", "due"} - {issued}:
            refused = api.get("/v1/inbox", "dana", params={"sort": sort, "cursor": cursor})
            assert refused.status_code == 422, (issued, sort, refused.text)
            assert refused.json()["errors"][0]["path"] == "$.query.cursor"
    assert api.get("/v1/inbox", "dana", params={"sort": "soon"}).status_code == 400
