"""The filer never approves their own decision, whatever a policy or a route says, over HTTP on both
backends: a candidate saying `exclude_filer: false` is 422 at its line and column with nothing stored, and
a pending decision whose route says the filer may approve (as one filed under such a policy, before the
loader refused it, would carry) still refuses the filer, in their own right and through a delegation."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from engine.store.db import write_transaction
from engine.store.tables import Decision
from tests.api.conftest import Api
from tests.policy.texts import where
from tests.support import DEFAULT_POLICY

TEXT = DEFAULT_POLICY.read_text(encoding="utf-8")
STRICT = "approvers: {role: tech_pm, count: 1, exclude_filer: true}"
assert TEXT.count(STRICT) == 1
LENIENT_TEXT = TEXT.replace(STRICT, STRICT.replace("exclude_filer: true", "exclude_filer: false"))
YEAR = {"starts_at": "2020-01-01T00:00:00Z", "ends_at": "2099-01-01T00:00:00Z"}
REFUSAL = "you filed this decision; its approver must be someone else"


def _events(api: Api) -> int:
    return sum(1 for _ in api.runtime.service.iter_event_rows())


def test_proposing_a_candidate_that_lets_the_filer_approve_is_422_at_its_line_and_column(api: Api) -> None:
    before = _events(api)
    response = api.post("/v1/policy/candidates", "adm", {"content": LENIENT_TEXT, "source": "lenient.yaml"})
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    line, column = where(LENIENT_TEXT, "false}")
    assert error["path"] == f"lenient.yaml:{line}:{column}"
    assert "tier 2 says `exclude_filer: false`, but the filer never approves their own decision" in error["message"]
    assert _events(api) == before


def _route_lets_the_filer_approve(api: Api, decision_id: str) -> None:
    """The stored route as a policy with `exclude_filer: false` would have routed it: the filer listed."""
    table = Decision.__table__  # type: ignore[attr-defined]
    with write_transaction(api.runtime.service.engine) as conn:
        route: dict[str, Any] = conn.execute(table.select().where(table.c.id == decision_id)).mappings().one()["route"]
        lenient = {**route, "exclude_filer": False, "approvers": sorted([*route["approvers"], "tomas"])}
        conn.execute(update(table).where(table.c.id == decision_id).values(route=lenient))


def test_a_route_saying_the_filer_may_approve_still_refuses_the_filer(api: Api) -> None:
    # tomas (a tech PM) files a tier-2 decision and lends his tech_pm sign-off to ravi.
    assert api.post("/v1/delegations", "tomas", {"delegate": "ravi", "role": "tech_pm", **YEAR}).status_code == 201
    d = api.file("tomas", "pipeline", {"risk_score": 80})
    assert (d["tier"], d["status"], d["route"]["approvers"]) == (2, "pending", ["priya"])
    _route_lets_the_filer_approve(api, d["id"])
    assert api.get(f"/v1/decisions/{d['id']}", "tomas").json()["route"]["exclude_filer"] is False
    before = _events(api)
    for who in ("tomas", "ravi"):  # in his own right; on his behalf
        for verdict in ({"verdict": "approve"}, {"verdict": "reject", "reason": "no"}):
            r = api.post(f"/v1/decisions/{d['id']}/approvals", who, verdict)
            assert r.status_code == 403, r.text
            # Ravi holds no tech_pm of his own, and the delegation from the filer never counts.
            expected = REFUSAL if who == "tomas" else "tier 2 (Tech PM sign-off) needs a tech_pm to sign off"
            assert r.json()["detail"].startswith(expected)
    assert _events(api) == before
    assert api.get(f"/v1/decisions/{d['id']}", "tomas").json()["status"] == "pending"
    # Nobody is offered his decision as his own to sign: not him, not his delegate.
    assert api.get("/v1/inbox", "tomas").json()["items"] == []
    assert api.get("/v1/inbox", "ravi").json()["items"] == []
    r = api.post(f"/v1/decisions/{d['id']}/approvals", "priya", {"verdict": "approve"})
    assert r.status_code == 200 and r.json()["status"] == "approved"
