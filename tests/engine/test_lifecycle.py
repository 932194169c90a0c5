"""The pure lifecycle, exhaustively: every (state, action, actor relation) combination."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from engine.errors import Conflict, Forbidden, InvalidInput
from engine.lifecycle import DecisionState, give_verdict, status_at_filing, withdraw
from engine.types import Route
from policy.compiled import ApproverRule, Person, Tier

TIER1 = Tier(1, "Squad", True, None, "weekly_sync", None)
TIER2 = Tier(2, "Tech PM sign-off", False, ApproverRule("tech_pm", 1, True), "director_review", timedelta(days=3))
TIER3Q = Tier(3, "Director pair", False, ApproverRule("director", 2, True), None, timedelta(days=5))

FILER = Person("mei", frozenset({"squad_member", "tech_pm", "director"}), "nucleus")
APPROVER_A = Person("tomas", frozenset({"tech_pm", "director"}), "nucleus")
APPROVER_B = Person("dana", frozenset({"tech_pm", "director"}), None)
WRONG_ROLE = Person("ann", frozenset({"auditor"}), None)
ACTORS = {"filer": FILER, "approver": APPROVER_A, "second approver": APPROVER_B, "wrong role": WRONG_ROLE}
STATUSES = ["resolved", "pending", "approved", "rejected", "withdrawn"]
FINAL = {"resolved", "approved", "rejected", "withdrawn"}


def route(tier: Tier) -> Route:
    if tier.approvers is None:
        return Route(tier=tier.number, role=None, count=0, exclude_filer=False, approvers=[])
    return Route(
        tier=tier.number,
        role=tier.approvers.role,
        count=tier.approvers.count,
        exclude_filer=True,
        approvers=["dana", "tomas"],
    )


def state(tier: Tier, status: str, approvals: tuple[str, ...] = ()) -> DecisionState:
    return DecisionState(
        id="D1", status=status, filed_by="mei", tier=tier.number, route=route(tier), approvals=approvals
    )


def test_filing_status_follows_the_tier() -> None:
    assert status_at_filing(TIER1) == "resolved"
    assert status_at_filing(TIER2) == "pending"


@pytest.mark.parametrize(
    ("tier", "status", "action", "actor"),
    list(itertools.product([TIER1, TIER2, TIER3Q], STATUSES, ["approve", "reject", "withdraw"], list(ACTORS))),
)
def test_every_combination(tier: Tier, status: str, action: str, actor: str) -> None:
    person = ACTORS[actor]
    s = state(tier, status)
    if action == "withdraw":
        if actor != "filer":
            with pytest.raises(Forbidden):
                withdraw(s, person, None)
        elif status in FINAL:
            with pytest.raises(Conflict):
                withdraw(s, person, None)
        else:
            assert withdraw(s, person, "changed my mind").status == "withdrawn"
        return
    reason = "needs more data" if action == "reject" else None
    if tier.self_approved:
        with pytest.raises(Conflict):
            give_verdict(s, tier, person, action, reason)  # type: ignore[arg-type]
    elif actor in {"filer", "wrong role"}:
        # The filer can never approve their own decision, whatever roles they hold.
        with pytest.raises(Forbidden):
            give_verdict(s, tier, person, action, reason)  # type: ignore[arg-type]
    elif status in FINAL:
        with pytest.raises(Conflict):
            give_verdict(s, tier, person, action, reason)  # type: ignore[arg-type]
    else:
        t = give_verdict(s, tier, person, action, reason)  # type: ignore[arg-type]
        if action == "reject":
            assert t.status == "rejected"
        else:
            assert t.status == ("approved" if tier.approvers and tier.approvers.count == 1 else "pending")
            assert person.name in t.data["approvals"]


def test_a_quorum_needs_distinct_people_and_never_counts_the_filer() -> None:
    s = state(TIER3Q, "pending")
    first = give_verdict(s, TIER3Q, APPROVER_A, "approve", None)
    assert first.status == "pending"
    s = state(TIER3Q, "pending", tuple(first.data["approvals"]))
    with pytest.raises(Conflict):
        give_verdict(s, TIER3Q, APPROVER_A, "approve", None)
    with pytest.raises(Forbidden):
        give_verdict(s, TIER3Q, FILER, "approve", None)
    second = give_verdict(s, TIER3Q, APPROVER_B, "approve", None)
    assert second.status == "approved"
    assert second.data["approvals"] == ["tomas", "dana"]
    assert "mei" not in second.data["approvals"]


def test_a_rejection_needs_a_reason() -> None:
    with pytest.raises(InvalidInput) as info:
        give_verdict(state(TIER2, "pending"), TIER2, APPROVER_A, "reject", "  ")
    assert info.value.errors[0].path == "$.reason"
