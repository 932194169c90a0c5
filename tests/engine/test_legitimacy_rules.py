"""The reproductions of issue 14, against the real service on both backends: each is refused with
a sentence, and nothing changes state without the authority to change it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from engine.errors import Conflict, Forbidden, InvalidInput
from engine.runtime import Runtime, open_runtime
from engine.types import (
    AmendRequest,
    DelegationRequest,
    FilingRequest,
    ProceedRequest,
    VerdictRequest,
)
from tests.support import DEFAULT_POLICY, ManualClock

TWO_PMS = (
    "2: {name: Tech PM sign-off, approvers: {role: tech_pm, count: 1,",
    "2: {name: Tech PM sign-off, approvers: {role: tech_pm, count: 2,",
)
PM_AND_DIRECTOR = (
    "3: {name: Director, approvers: {role: director, count: 1, exclude_filer: true}",
    "3: {name: Director, approvers: {roles: [director, tech_pm], count: 2, distinct: role, exclude_filer: true}",
)


def _open(database_url: str, tmp_path: Path, *edits: tuple[str, str]) -> Runtime:
    text = DEFAULT_POLICY.read_text()
    for old, new in edits:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "policies.yaml"
    path.write_text(text)
    return open_runtime(database_url, str(path), clock=ManualClock())


@pytest.fixture
def rt(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = _open(database_url, tmp_path)
    yield runtime
    runtime.close()


def _p(rt: Runtime, name: str):  # type: ignore[no-untyped-def]
    return rt.policies.current.people[name]


def _file(rt: Runtime, who: str, category: str, attributes: dict, **kw: object):  # type: ignore[no-untyped-def]
    return rt.service.file(
        _p(rt, who), FilingRequest(title=f"{category} by {who}", category=category, attributes=attributes, **kw)
    ).decision  # type: ignore[arg-type]


def _approve(rt: Runtime, who: str, decision_id: str):  # type: ignore[no-untyped-def]
    return rt.service.decide(_p(rt, who), decision_id, VerdictRequest(verdict="approve", reason="ok"))


def test_a_tier_1_filing_by_another_squad_cannot_supersede_an_approved_tier_3_decision(rt: Runtime) -> None:
    contract = _file(rt, "ravi", "contract", {"change": "scope"})
    assert _approve(rt, "dana", contract.id).status == "approved"
    with pytest.raises(Forbidden, match="supersede"):
        _file(rt, "mei", "reporting_format", {}, supersedes=contract.id)
    assert rt.service.get(contract.id).status == "approved"
    # Its filer may replace it, but only with the authority that made it: tier 3, pending the director.
    replacement = _file(rt, "ravi", "reporting_format", {}, supersedes=contract.id)
    assert (replacement.tier, replacement.status) == (3, "pending")
    assert rt.service.get(contract.id).status == "approved"
    _approve(rt, "dana", replacement.id)
    assert rt.service.get(contract.id).status == "superseded"


@pytest.mark.parametrize("status", ["pending", "rejected", "withdrawn"])
def test_only_decisions_in_force_can_be_superseded(rt: Runtime, status: str) -> None:
    lena = _file(rt, "lena", "pipeline", {"risk_score": 80})
    if status == "rejected":
        rt.service.decide(_p(rt, "priya"), lena.id, VerdictRequest(verdict="reject", reason="too risky"))
    elif status == "withdrawn":
        from engine.types import WithdrawRequest

        rt.service.withdraw(_p(rt, "lena"), lena.id, WithdrawRequest(reason="not needed"))
    for who in ("jon", "lena"):
        with pytest.raises(InvalidInput, match="supersede"):
            _file(rt, who, "pipeline", {"risk_score": 5}, supersedes=lena.id)
    assert rt.service.get(lena.id).status == status


def test_a_break_glass_decision_cannot_be_superseded_at_filing(rt: Runtime) -> None:
    urgent = _file(rt, "mei", "pipeline", {"risk_score": 80})
    rt.service.proceed(_p(rt, "mei"), urgent.id, ProceedRequest(reason="the nightly run breaks otherwise"))
    with pytest.raises(InvalidInput, match="proceeded_pending_review"):
        _file(rt, "mei", "pipeline", {"risk_score": 90}, supersedes=urgent.id)


def test_one_person_counts_once_whatever_delegations_they_hold(database_url: str, tmp_path: Path) -> None:
    rt = _open(database_url, tmp_path, TWO_PMS, PM_AND_DIRECTOR)
    try:
        now = rt.service.clock()
        week = {"starts_at": now - timedelta(hours=1), "ends_at": now + timedelta(days=7)}
        decision = _file(rt, "mei", "pipeline", {"risk_score": 80})
        _approve(rt, "tomas", decision.id)
        rt.service.delegate(_p(rt, "priya"), DelegationRequest(delegate="tomas", role="tech_pm", **week))
        with pytest.raises(Conflict, match="distinct people"):
            _approve(rt, "tomas", decision.id)
        assert rt.service.get(decision.id).status == "pending"

        contract = _file(rt, "mei", "contract", {"change": "term"})
        rt.service.delegate(_p(rt, "dana"), DelegationRequest(delegate="jon", role="director", **week))
        rt.service.delegate(_p(rt, "tomas"), DelegationRequest(delegate="jon", role="tech_pm", **week))
        _approve(rt, "jon", contract.id)
        with pytest.raises(Conflict, match="distinct people"):
            _approve(rt, "jon", contract.id)
        assert rt.service.get(contract.id).status == "pending"
        assert _approve(rt, "priya", contract.id).status == "approved"
    finally:
        rt.close()


def test_an_approval_does_not_survive_a_change_to_what_it_approved(database_url: str, tmp_path: Path) -> None:
    rt = _open(database_url, tmp_path, PM_AND_DIRECTOR)
    try:
        first = rt.policies.current.version
        text = DEFAULT_POLICY.read_text().replace(*PM_AND_DIRECTOR)
        a = rt.governance.propose(text.replace("pipeline_risk_max: 30", "pipeline_risk_max: 40"), "a.yaml")
        # B hands the director's categories to the squad (all but `policy`: the loader refuses that).
        head, policy_section = text.split("\n  policy:\n")
        b_text = head.replace("base_tier: 3", "base_tier: 1") + "\n  policy:\n" + policy_section
        b = rt.governance.propose(b_text, "b.yaml")
        decision = _file(rt, "adm", "policy", {"candidate_version": a.version})
        _approve(rt, "dana", decision.id)
        amended = rt.service.amend(
            _p(rt, "adm"), decision.id, AmendRequest(attributes={"candidate_version": b.version}, reason="swap")
        )
        assert amended.status == "pending" and all(x.dismissed for x in amended.approvals)
        after = _approve(rt, "tomas", decision.id)
        assert after.status == "pending"
        assert rt.policies.current.version == first
        # A category without rules has no immaterial attribute change either.
        contract = _file(rt, "mei", "contract", {"change": "term"})
        _approve(rt, "dana", contract.id)
        rt.service.amend(_p(rt, "mei"), contract.id, AmendRequest(attributes={"change": "pricing"}))
        assert _approve(rt, "tomas", contract.id).status == "pending"
    finally:
        rt.close()


def test_a_policy_decision_cannot_name_an_unknown_candidate(rt: Runtime) -> None:
    text = DEFAULT_POLICY.read_text().replace("pipeline_risk_max: 30", "pipeline_risk_max: 40")
    candidate = rt.governance.propose(text, "c.yaml")
    with pytest.raises(InvalidInput, match="candidate_version"):
        _file(rt, "adm", "policy", {"candidate_version": "deadbeef"})
    decision = _file(rt, "adm", "policy", {"candidate_version": candidate.version})
    with pytest.raises(InvalidInput, match="candidate_version"):
        rt.service.amend(_p(rt, "adm"), decision.id, AmendRequest(attributes={"candidate_version": "deadbeef"}))
    approved = _approve(rt, "dana", decision.id)
    # The approval and the activation are one transaction: approved means active.
    assert approved.status == "approved" and rt.policies.current.version == candidate.version
    activations = [v for v in rt.governance.versions() if v.decision_id == decision.id]
    assert [v.version for v in activations] == [candidate.version]
