"""The replay audit and roles given by identity-provider claims (the policy's `identity:` section).

Steps are taken through the service by people as `person_from_claims` makes them from verified
claims (what the OpenID sign-in and bearer-token paths do), so the events are the service's own:
each names the claims behind a role or squad it used (`authority`). The audit must accept a step
the policy in force let a claim give, and name a step whose claimed role that policy did not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.errors import Forbidden
from engine.log.audit import audit_database
from engine.runtime import Runtime, open_runtime
from engine.types import CommentRequest, FilingRequest, VerdictRequest
from policy.identity import person_from_claims
from tests.log.tampering import drop_guards, replace_rows, restore_guards, row_for, rows
from tests.support import DEFAULT_POLICY, ManualClock

KIM = "  kim:   {roles: [squad_member], display_name: Kim, email: kim@example.com}\n"
TEXT = DEFAULT_POLICY.read_text().replace("people:\n", "people:\n" + KIM, 1)
#: Version A: the provider's `pms` group makes a tech PM, `ml-atlas` puts people in squad atlas.
ALLOWING = TEXT + (
    "\nidentity:\n  approver_roles_from_idp: true\n  groups:\n"
    "    pms: {roles: [tech_pm]}\n    ml-atlas: {squad: atlas}\n"
)
#: Version B: approver roles come from `people:` only; the squad still comes from the group.
DIRECTORY_ONLY = TEXT + "\nidentity:\n  groups:\n    ml-atlas: {squad: atlas}\n"
KIM_CLAIMS = {"email": "kim@example.com", "email_verified": True, "groups": ["pms", "ml-atlas"]}


@pytest.fixture
def rt(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Runtime]:
    (tmp_path / "policies.yaml").write_text(ALLOWING)
    runtime = open_runtime(database_url, str(tmp_path / "policies.yaml"), clock=clock)
    yield runtime
    runtime.close()


def _kim(rt: Runtime) -> Any:
    return person_from_claims(rt.policies.current, KIM_CLAIMS)


def _file(rt: Runtime, who: Any, deviation: float) -> str:
    actor = rt.policies.current.people[who] if isinstance(who, str) else who
    request = FilingRequest(title=f"bound {deviation}", category="quality_threshold",
                            attributes={"deviation_pct": deviation})  # fmt: skip
    return rt.service.file(actor, request).decision.id


def _event(rt: Runtime, kind: str, actor: str, decision_id: str) -> dict[str, Any]:
    for r in rows(rt):
        if (r["type"], r["actor"], r["decision_id"]) == (kind, actor, decision_id):
            return dict(json.loads(r["body"]))
    raise AssertionError(f"no {kind} by {actor} on {decision_id}")


def _activate_directory_only(rt: Runtime) -> None:
    people = rt.policies.current.people
    candidate = rt.governance.propose(DIRECTORY_ONLY, "directory-only.yaml")
    request = FilingRequest(title="approver roles from people: only", category="policy",
                            attributes={"candidate_version": candidate.version})  # fmt: skip
    decision = rt.service.file(people["adm"], request).decision.id
    rt.service.decide(people["dana"], decision, VerdictRequest(verdict="approve", reason="agreed"))
    assert rt.policies.current.version == candidate.version


def test_steps_on_roles_and_squads_the_policy_let_claims_give_are_accepted(rt: Runtime) -> None:
    kim = _kim(rt)
    assert "tech_pm" in kim.roles and kim.squad == "atlas"  # neither is in the directory
    pending = _file(rt, "mei", 3.5)
    approved = rt.service.decide(kim, pending, VerdictRequest(verdict="approve", reason="on my group's word"))
    assert approved.status == "approved"
    approval = _event(rt, "approval_recorded", "kim", pending)
    assert approval["data"]["authority"] == {"tech_pm": "groups=pms", "squad": "groups=ml-atlas"}
    assert approval["data"]["squad"] == "atlas"
    own = _file(rt, kim, 1.0)
    filed = _event(rt, "decision_filed", "kim", own)
    assert filed["data"]["squad"] == "atlas" and filed["data"]["authority"]["squad"] == "groups=ml-atlas"
    rt.service.comment(kim, pending, CommentRequest(text="thanks"))

    # Under version B the same claims give kim her squad only; what she does then is audited under B.
    _activate_directory_only(rt)
    kim = _kim(rt)
    assert "tech_pm" not in kim.roles and kim.authority == (("squad", "groups=ml-atlas"),)
    later = _file(rt, kim, 1.2)
    assert _event(rt, "decision_filed", "kim", later)["data"]["authority"] == {"squad": "groups=ml-atlas"}

    result = audit_database(rt.service.engine)
    assert result.ok, result.reason
    assert result.size == len(rows(rt))


def test_an_approver_role_claimed_where_the_policy_in_force_forbids_it_is_named(rt: Runtime) -> None:
    kim = _kim(rt)
    first = _file(rt, "mei", 3.5)
    rt.service.decide(kim, first, VerdictRequest(verdict="approve", reason="allowed under A"))
    _activate_directory_only(rt)
    pending = _file(rt, "mei", 3.5)
    assert audit_database(rt.service.engine).ok

    # Someone with write access to the database appends kim's approval of `pending` as version A
    # would have logged it: the claim that gave tech_pm then, chain-correct.
    approval = _event(rt, "approval_recorded", "kim", first)
    drop_guards(rt)
    old = rows(rt)
    body = {**approval, "seq": len(old), "prev": old[-1]["leaf_hash"], "decision_id": pending,
            "at": json.loads(old[-1]["body"])["at"]}  # fmt: skip
    replace_rows(rt, [*old, row_for(body)], update_head=True)
    restore_guards(rt)
    assert rt.service.verify_log().ok, "the forgery must be chain-correct, or this test proves nothing"

    result = audit_database(rt.service.engine)
    assert not result.ok and result.first_bad_seq == len(old)
    reason = result.reason or ""
    assert reason.startswith(f"seq {len(old)}: kim's approval of {pending} does not stand: "), reason
    assert "under the policy in force those groups give {'squad': 'groups=ml-atlas'}" in reason, reason


@pytest.mark.parametrize(
    ("actor", "authority", "words"),
    [
        ("kim", {"squad": "groups=pms"}, "those groups give {'tech_pm': 'groups=pms'}"),
        ("mei", {"squad": "groups=ml-atlas"}, "those groups give no role"),
        ("kim", {"admin": "groups=ml-atlas"}, "those groups give {'squad': 'groups=ml-atlas'}"),
        ("kim", {"tech_pm": "roles=pms"}, "names no `groups` claim of this policy"),
        ("kim", ["tech_pm", "groups=pms"], "names no `groups` claim of this policy"),
    ],
)
def test_a_forged_claim_is_named(
    sqlite_url: str, tmp_path: Path, clock: ManualClock, actor: str, authority: Any, words: str
) -> None:
    (tmp_path / "policies.yaml").write_text(ALLOWING)
    rt = open_runtime(sqlite_url, str(tmp_path / "policies.yaml"), clock=clock)
    try:
        filed = _file(rt, _kim(rt) if actor == "kim" else actor, 1.0)
        body = _event(rt, "decision_filed", actor, filed)
        drop_guards(rt)
        old = rows(rt)
        forged = {**body, "data": {**body["data"], "authority": authority}}
        replace_rows(rt, [*old[: body["seq"]], row_for(forged)], update_head=True)
        restore_guards(rt)
        assert rt.service.verify_log().ok
        result = audit_database(rt.service.engine)
        assert not result.ok and result.first_bad_seq == body["seq"], result
        assert "does not stand" in (result.reason or "") and words in (result.reason or ""), result.reason
    finally:
        rt.close()


#: An admin by the provider's word only: `platform-admins` makes an admin, and kim is a squad member in `people:`.
ADMIN_BY_CLAIM = TEXT + "\nidentity:\n  groups:\n    platform-admins: {roles: [admin]}\n"
ADMIN_CLAIMS = {"email": "kim@example.com", "email_verified": True, "groups": ["platform-admins"]}


def test_an_admin_by_claim_activates_an_approved_policy_file(database_url: str, tmp_path: Path) -> None:
    """`policy reload` acts as the authenticated person, claim-given roles included; it used to look the
    name up in the directory again, where kim is only a squad member, and refuse her."""
    path = tmp_path / "policies.yaml"
    path.write_text(ADMIN_BY_CLAIM)
    rt = open_runtime(database_url, str(path), clock=ManualClock())
    try:
        people = rt.policies.current.people
        versions = []
        for name in ("b", "c"):  # B is approved and activated, then C replaces it
            candidate = rt.governance.propose(ADMIN_BY_CLAIM + f"# candidate {name}\n", f"{name}.yaml")
            request = FilingRequest(title=f"policy {name}", category="policy",
                                    attributes={"candidate_version": candidate.version})  # fmt: skip
            decision = rt.service.file(people["adm"], request).decision.id
            rt.service.decide(people["dana"], decision, VerdictRequest(verdict="approve", reason="agreed"))
            versions.append(candidate.version)
        assert rt.policies.current.version == versions[1]
        # Back to B, which an approved decision names: the file on disk says B.
        path.write_text(ADMIN_BY_CLAIM + "# candidate b\n")
        kim = person_from_claims(rt.policies.current, ADMIN_CLAIMS)
        assert "admin" in kim.roles and "admin" not in rt.policies.current.people["kim"].roles
        mei = rt.policies.current.people["mei"]
        with pytest.raises(Forbidden, match="mei may not activate a policy version; an admin does"):
            rt.governance.activate_file(mei)  # the rules decide, with the person as authenticated
        assert rt.policies.current.version == versions[1]
        assert rt.governance.activate_file(kim).version == versions[0]
        assert rt.policies.current.version == versions[0]
        activation = json.loads(rows(rt)[-1]["body"])
        assert (activation["type"], activation["actor"]) == ("policy_activated", "kim")
        assert activation["data"]["authority"] == {"admin": "groups=platform-admins"}
        result = audit_database(rt.service.engine)
        assert result.ok and result.size == len(rows(rt)), result
    finally:
        rt.close()
