"""Approvers whose role comes from an identity-provider group (the policy's `identity.groups` with
`approver_roles_from_idp: true`): they sign off on their group's word, the log says so and the replay
audit accepts it; and everything that lists who may approve names the group beside the directory's people."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from litestar.testing import TestClient

from api.app import create_app
from engine.log.audit import audit_database
from engine.notify.config import NotifyConfig
from engine.runtime import Runtime, open_runtime
from engine.types import FilingRequest, VerdictRequest
from policy.identity import person_from_claims
from tests.support import DEFAULT_POLICY, ManualClock
from tests.web.conftest import Browser

KIM = "  kim:   {roles: [squad_member], display_name: Kim, email: kim@example.com}\n"
IDENTITY = """
identity:
  approver_roles_from_idp: true
  groups:
    pms: {roles: [tech_pm]}
    auditors: {roles: [auditor]}
"""
TIER2 = FilingRequest(title="Wider bound", category="quality_threshold", attributes={"deviation_pct": 3.5})
KIM_CLAIMS = {"sub": "k-1", "email": "kim@example.com", "groups": ["pms"]}


@pytest.fixture
def group_policy(tmp_path: Path) -> Path:
    path = tmp_path / "policies.yaml"
    text = DEFAULT_POLICY.read_text().replace("people:\n", "people:\n" + KIM, 1) + IDENTITY
    # Every tech PM of the directory has a Slack id: a channel post can only be for the group's members.
    text = text.replace("email: priya@example.com}", "email: priya@example.com, slack: U0PRIYA01}")
    path.write_text(text)
    return path


@pytest.fixture
def rt(database_url: str, group_policy: Path, clock: ManualClock) -> Iterator[Runtime]:
    config = NotifyConfig(webhook_url="http://127.0.0.1:9/hook", slack_bot_token="xoxb-test", slack_channel="C0PMS")
    runtime = open_runtime(database_url, str(group_policy), clock=clock, notify=config)
    yield runtime
    runtime.close()


def test_a_group_given_tech_pm_approves_the_log_names_the_group_and_the_audit_accepts_it(rt: Runtime) -> None:
    people = rt.policies.current.people
    decision = rt.service.file(people["mei"], TIER2).decision
    kim = person_from_claims(rt.policies.current, KIM_CLAIMS)
    assert "tech_pm" in kim.roles and "tech_pm" not in people["kim"].roles
    approved = rt.service.decide(kim, decision.id, VerdictRequest(verdict="approve"))
    assert approved.status == "approved"
    assert [(a.approver, a.role) for a in approved.approvals] == [("kim", "tech_pm")]
    event = next(e for e in rt.service.get(decision.id).events if e.type == "approval_recorded")
    assert event.data["authority"] == {"tech_pm": "groups=pms"}
    result = audit_database(rt.service.engine)
    assert result.ok, result


def test_the_directory_alone_does_not_make_kim_an_approver(rt: Runtime) -> None:
    from engine.errors import Forbidden

    people = rt.policies.current.people
    decision = rt.service.file(people["mei"], TIER2).decision
    with pytest.raises(Forbidden, match="needs a tech_pm"):
        rt.service.decide(people["kim"], decision.id, VerdictRequest(verdict="approve"))


def test_classify_and_the_decision_name_the_group_beside_the_people(rt: Runtime) -> None:
    mei = rt.service.create_token("mei")
    with TestClient(create_app(rt, web=False)) as api:
        headers = {"Authorization": f"Bearer {mei}"}
        body = {"title": TIER2.title, "category": TIER2.category, "attributes": TIER2.attributes}
        classified = api.post("/v1/classify", json=body, headers=headers).json()
        assert classified["route"]["approvers"] == ["priya", "tomas"]
        assert classified["approver_groups"] == ["pms"]  # not `auditors`: it gives no route role
        filed = api.post("/v1/decisions", json=body, headers=headers).json()
        assert filed["approver_groups"] == ["pms"]
        assert api.get(f"/v1/decisions/{filed['id']}", headers=headers).json()["approver_groups"] == ["pms"]
        tier1 = {"title": "Small", "category": "pipeline", "attributes": {"risk_score": 1}}
        assert api.post("/v1/classify", json=tier1, headers=headers).json()["approver_groups"] == []


def test_the_decision_page_and_the_filing_preview_say_members_of_the_group(rt: Runtime) -> None:
    decision = rt.service.file(rt.policies.current.people["mei"], TIER2).decision
    with TestClient(create_app(rt)) as client:
        browser = Browser(client, {"mei": rt.service.create_token("mei")})
        browser.sign_in("mei")
        page = client.get(f"/decisions/{decision.id}").text
        # People by their display names (the id on hover), then the group the identity provider vouches for.
        text = re.sub(r"<[^>]+>", "", page)
        assert "Eligible: Priya, Tomas; members of the identity provider's group pms (not the filer)" in text
        assert '<span title="priya">Priya</span>' in page
        form = {"category": "quality_threshold", "attr.deviation_pct": "3.5", "_csrf_token": browser.csrf("/new")}
        preview = client.post("/new/preview", data=form, headers={"HX-Request": "true"}).text
        assert "Priya, Tomas; members of the identity provider's group pms" in re.sub(r"<[^>]+>", "", preview)


def _outbox(rt: Runtime) -> list[dict[str, Any]]:
    with rt.service.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.text("SELECT * FROM outbox ORDER BY id")).mappings()]
    for row in rows:  # JSON text on SQLite, JSONB on PostgreSQL
        row["payload"] = json.loads(row["payload"]) if isinstance(row["payload"], str) else row["payload"]
    return rows


def test_approval_requests_reach_the_group_through_the_shared_channels(rt: Runtime) -> None:
    rt.service.file(rt.policies.current.people["mei"], TIER2)
    rows = _outbox(rt)
    hook = [r for r in rows if r["channel"] == "webhook"]
    assert len(hook) == 1
    assert hook[0]["payload"]["recipients"] == ["priya", "tomas"]
    assert hook[0]["payload"]["approver_groups"] == ["pms"]
    # The Slack app DMs the directory's tech PMs and posts once in its channel for the group's members.
    assert sorted(r["recipient"] for r in rows if r["channel"] == "slack_app") == ["#C0PMS", "priya", "tomas"]


def test_without_approver_roles_from_the_provider_nothing_names_a_group(runtime: Runtime) -> None:
    decision = runtime.service.file(runtime.policies.current.people["mei"], TIER2).decision
    assert runtime.service.get(decision.id).approver_groups == []
