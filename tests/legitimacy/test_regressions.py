"""Issue 14's reproductions, one named test each, against the real service on both backends.

Each is marked xfail(strict=True) while main still has the hole: the commit that closes it
removes the marker (strict: a fixed test that still carries it fails the suite).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner
from sqlalchemy import update

from api.cli import main
from engine.errors import DomainError
from engine.log.appender import NewEvent, append_events
from engine.read_model import fold
from engine.runtime import Runtime
from engine.store.db import write_transaction
from engine.store.tables import Decision
from engine.types import AmendRequest, DelegationRequest, FilingRequest, ProceedRequest, VerdictRequest
from tests.legitimacy.policies import variant_text
from tests.support import DEFAULT_POLICY, ManualClock

OpenVariant = Callable[[str], Runtime]


def _file(rt: Runtime, who: str, category: str, attributes: dict[str, Any], supersedes: str | None = None) -> str:
    person = rt.policies.current.people[who]
    request = FilingRequest(
        title=f"{category} by {who}", category=category, attributes=attributes, supersedes=supersedes
    )
    return rt.service.file(person, request).decision.id


def _approve(rt: Runtime, who: str, decision_id: str) -> str:
    view = rt.service.decide(rt.policies.current.people[who], decision_id, VerdictRequest(verdict="approve"))
    return view.status


def _status(rt: Runtime, decision_id: str) -> str:
    return rt.service.get(decision_id).status


def _delegate(rt: Runtime, clock: ManualClock, who: str, to: str, role: str) -> None:
    rt.service.delegate(
        rt.policies.current.people[who],
        DelegationRequest(
            delegate=to, role=role, starts_at=clock.now - timedelta(hours=1), ends_at=clock.now + timedelta(days=7)
        ),
    )


# -- 1. supersede is a back door ----------------------------------------------------------------------


def test_another_squads_tier1_filing_cannot_supersede_an_approved_tier3_decision(runtime: Runtime) -> None:
    contract = _file(runtime, "ravi", "contract", {"change": "scope"})
    assert _approve(runtime, "dana", contract) == "approved"
    with pytest.raises(DomainError):
        _file(runtime, "mei", "reporting_format", {}, supersedes=contract)
    assert _status(runtime, contract) == "approved"


def test_a_tier1_filing_never_cancels_a_tier3_decision_even_by_its_filer(runtime: Runtime) -> None:
    contract = _file(runtime, "ravi", "contract", {"change": "scope"})
    assert _approve(runtime, "dana", contract) == "approved"
    try:
        newer = _file(runtime, "ravi", "reporting_format", {}, supersedes=contract)
    except DomainError:
        pass  # refused outright: also keeps the director's decision standing
    else:
        detail = runtime.service.get(newer)
        assert detail.tier >= 3 and detail.status == "pending"
    assert _status(runtime, contract) == "approved"


def test_superseding_someone_elses_pending_decision_is_refused(runtime: Runtime) -> None:
    pending = _file(runtime, "lena", "pipeline", {"risk_score": 60})
    assert _status(runtime, pending) == "pending"
    with pytest.raises(DomainError):
        _file(runtime, "jon", "pipeline", {"risk_score": 5}, supersedes=pending)
    assert _status(runtime, pending) == "pending"  # a withdrawal only its filer may make


def test_a_rejected_decision_cannot_be_superseded(runtime: Runtime) -> None:
    rejected = _file(runtime, "ravi", "pipeline", {"risk_score": 60})
    runtime.service.decide(
        runtime.policies.current.people["tomas"], rejected, VerdictRequest(verdict="reject", reason="too risky")
    )
    assert _status(runtime, rejected) == "rejected"
    with pytest.raises(DomainError):
        _file(runtime, "ravi", "pipeline", {"risk_score": 5}, supersedes=rejected)
    assert _status(runtime, rejected) == "rejected"


# -- 2. one person fills a quorum of distinct people -------------------------------------------------


def test_one_tech_pm_cannot_fill_a_two_tech_pm_quorum_with_a_delegation(
    open_variant: OpenVariant, clock: ManualClock
) -> None:
    rt = open_variant("tier2_count2")
    decision = _file(rt, "mei", "pipeline", {"risk_score": 60})
    assert _approve(rt, "tomas", decision) == "pending"
    _delegate(rt, clock, "priya", "tomas", "tech_pm")
    with pytest.raises(DomainError):
        _approve(rt, "tomas", decision)  # "on behalf of Priya": still Tomas
    assert _status(rt, decision) == "pending"
    assert _approve(rt, "priya", decision) == "approved"  # the quorum Priya herself completes


def test_one_person_holding_two_delegations_cannot_fill_a_distinct_role_quorum(
    open_variant: OpenVariant, clock: ManualClock
) -> None:
    rt = open_variant("tier3_distinct_role")
    decision = _file(rt, "ravi", "contract", {"change": "scope"})
    _delegate(rt, clock, "dana", "jon", "director")
    _delegate(rt, clock, "tomas", "jon", "tech_pm")
    assert _approve(rt, "jon", decision) == "pending"
    with pytest.raises(DomainError):
        _approve(rt, "jon", decision)
    assert _status(rt, decision) == "pending"


# -- 3. approvals survive what they did not approve --------------------------------------------------


def test_an_amendment_in_a_category_without_rules_dismisses_earlier_approvals(open_variant: OpenVariant) -> None:
    rt = open_variant("tier3_distinct_role")
    decision = _file(rt, "ravi", "contract", {"change": "scope"})
    assert _approve(rt, "dana", decision) == "pending"
    rt.service.amend(
        rt.policies.current.people["ravi"],
        decision,
        AmendRequest(attributes={"change": "pricing"}, reason="it is pricing after all"),
    )
    # Dana approved a scope change, not a pricing change: the tech PM alone cannot complete it.
    assert _approve(rt, "tomas", decision) == "pending"
    approvals = rt.service.get(decision).approvals
    assert [a.approver for a in approvals if not a.dismissed] == ["tomas"]


def test_a_policy_decision_cannot_swap_its_candidate_after_an_approval(open_variant: OpenVariant) -> None:
    rt = open_variant("tier3_distinct_role")
    people = rt.policies.current.people
    base = variant_text("tier3_distinct_role")
    a = rt.governance.propose(base.replace("pipeline_risk_max: 30", "pipeline_risk_max: 35"), "a.yaml").version
    # B makes every category tier 1 but `policy` (the loader refuses a policy the squad could replace):
    # nothing else would need anyone's approval any more.
    head, policy_section = base.split("\n  policy:\n")
    head = head.replace("base_tier: 2", "base_tier: 1").replace("base_tier: 3", "base_tier: 1")
    b_text = head.replace("tier: 2\n", "tier: 1\n") + "\n  policy:\n" + policy_section
    b_text = b_text.replace("unknown_category_tier: 3", "unknown_category_tier: 1")
    b = rt.governance.propose(b_text, "b.yaml").version
    filed = rt.service.file(
        people["adm"],
        FilingRequest(title="raise the risk bound", category="policy", attributes={"candidate_version": a}),
    ).decision.id
    assert _approve(rt, "dana", filed) == "pending"
    rt.service.amend(people["adm"], filed, AmendRequest(attributes={"candidate_version": b}, reason="swap"))
    with contextlib.suppress(DomainError):  # refused, or counted alone: either way B must not be active
        _approve(rt, "tomas", filed)
    assert rt.policies.current.version != b
    assert _status(rt, filed) != "approved"


# -- 4. a policy decision's amendment skips the candidate check --------------------------------------


def test_a_policy_decision_amended_to_an_unknown_candidate_is_never_stored_approved(runtime: Runtime) -> None:
    people = runtime.policies.current.people
    active = runtime.policies.current.version
    text = DEFAULT_POLICY.read_text(encoding="utf-8").replace("pipeline_risk_max: 30", "pipeline_risk_max: 35")
    candidate = runtime.governance.propose(text, "a.yaml").version
    filed = runtime.service.file(
        people["adm"], FilingRequest(title="raise", category="policy", attributes={"candidate_version": candidate})
    ).decision.id
    try:
        runtime.service.amend(
            people["adm"], filed, AmendRequest(attributes={"candidate_version": "deadbeef"}, reason="typo")
        )
    except DomainError:
        assert runtime.service.get(filed).attributes["candidate_version"] == candidate
        return
    with pytest.raises(DomainError):
        _approve(runtime, "dana", filed)
    assert _status(runtime, filed) == "pending"  # not "approved" with nothing activated
    assert runtime.policies.current.version == active


# -- 5. a decision that supersedes a break-glass one -------------------------------------------------


def test_superseding_a_break_glass_decision_is_refused_at_filing_not_at_approval(runtime: Runtime) -> None:
    people = runtime.policies.current.people
    broken = _file(runtime, "mei", "pipeline", {"risk_score": 95})
    runtime.service.proceed(people["mei"], broken, ProceedRequest(reason="client data leaking"))
    assert _status(runtime, broken) == "proceeded_pending_review"
    with pytest.raises(DomainError):
        _file(runtime, "mei", "pipeline", {"risk_score": 95}, supersedes=broken)
    # Once ratified it is approved, and a successor can be filed and approved.
    assert _approve(runtime, "tomas", broken) == "approved"
    successor = _file(runtime, "mei", "pipeline", {"risk_score": 95}, supersedes=broken)
    assert _approve(runtime, "priya", successor) == "approved"
    assert _status(runtime, broken) == "superseded"


# -- 6. the log proves integrity, not authorization --------------------------------------------------


def _forge_self_approval(rt: Runtime, decision_id: str, filer: str) -> int:
    """A database writer appends a chain-correct approval by the filer, and updates the read model."""
    row = rt.service.get(decision_id)
    data = {
        "verdict": "approve",
        "reason": None,
        "role": row.route.role,
        "squad": row.squad,
        "on_behalf_of": None,
        "approvals": [filer],
        "missing": None,
        "status": "approved",
    }
    with write_transaction(rt.service.engine) as conn:
        [event] = append_events(
            conn, rt.service.origin, rt.service.clock, [NewEvent("approval_recorded", filer, decision_id, data)]
        )
        decisions = Decision.__table__  # type: ignore[attr-defined]
        current = dict(conn.execute(decisions.select().where(decisions.c.id == decision_id)).mappings().one())
        updated = fold(current, msgspec.json.decode(event.body))
        assert updated is not None
        conn.execute(update(decisions).where(decisions.c.id == decision_id).values(updated))
    return event.seq


def test_a_forged_self_approval_passes_verify_but_not_the_audit(runtime: Runtime, database_url: str) -> None:
    decision = _file(runtime, "ravi", "contract", {"change": "scope"})
    cli = CliRunner()

    def audit() -> Any:
        return cli.invoke(main, ["--database-url", database_url, "--policy", str(DEFAULT_POLICY), "log", "audit"])

    clean = audit()
    assert clean.exit_code == 0, clean.output
    forged = _forge_self_approval(runtime, decision, "ravi")
    assert runtime.service.get(decision).status == "approved"
    assert runtime.service.verify_log().ok  # integrity holds: the forgery is chain-correct
    caught = audit()
    assert caught.exit_code != 0
    assert re.search(rf"seq\W{{0,4}}{forged}\b", caught.output), caught.output  # names the forged event
