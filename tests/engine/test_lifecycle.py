"""The pure lifecycle as a state machine, exhaustively: every (state, action, actor relation)."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import timedelta

import pytest

from engine.errors import Conflict, DomainError, Forbidden, InvalidInput
from engine.lifecycle import DecisionState, amend, give_verdict, proceed, status_at_filing, supersede, withdraw
from engine.quorum import Vote, missing
from engine.types import FINAL_STATUSES, OPEN_STATUSES, Route
from policy.compiled import ApproverRule, Person, Tier

TIER1 = Tier(1, "Squad", True, None, "weekly_sync", None)
TIER2 = Tier(
    2,
    "Tech PM sign-off",
    False,
    ApproverRule("tech_pm", 1, True, ("tech_pm",)),
    "dr",
    timedelta(days=3),
    break_glass=True,
)
TIER3Q = Tier(3, "Director pair", False, ApproverRule("director", 2, True, ("director",)), None, timedelta(days=5))
MIXED = Tier(3, "PM and director", False, ApproverRule("tech_pm", 2, True, ("tech_pm", "director"), "role"), None, None)
SQUADS = Tier(2, "Two squads", False, ApproverRule("tech_pm", 2, True, ("tech_pm",), "squad"), None, None)
TIERS = [TIER1, TIER2, TIER3Q, MIXED, SQUADS]

FILER = Person("mei", frozenset({"squad_member", "tech_pm", "director"}), "nucleus")
A = Person("tomas", frozenset({"tech_pm", "director"}), "nucleus")
B = Person("priya", frozenset({"tech_pm", "director"}), "atlas")
WRONG_ROLE = Person("ann", frozenset({"auditor"}), None)
DELEGATE = Person("lena", frozenset({"squad_member"}), "atlas")
ACTORS = {"filer": FILER, "approver": A, "second approver": B, "wrong role": WRONG_ROLE, "delegate": DELEGATE}
# Delegations the delegate may hold: none, from an approver, or from the filer (never counts).
DELEGATIONS = {
    "none": [],
    "from approver": [(A, "tech_pm"), (A, "director")],
    "from filer": [(FILER, "tech_pm"), (FILER, "director")],
}
STATUSES = ["resolved", "pending", "proceeded_pending_review", "approved", "rejected", "withdrawn", "superseded"]


def route(tier: Tier, exclude_filer: bool = True) -> Route:
    """`exclude_filer=False`: a route as a policy that let the filer approve logged it (the loader refuses
    such a policy now, but a log may hold one): it changes nothing, the filer never approves their own."""
    if tier.approvers is None:
        return Route(tier=tier.number, role=None, count=0, exclude_filer=False, approvers=[])
    rule = tier.approvers
    return Route(
        tier=tier.number,
        role=rule.role,
        count=rule.count,
        exclude_filer=exclude_filer,
        approvers=["priya", "tomas"] if exclude_filer else ["mei", "priya", "tomas"],
        roles=list(rule.all_roles),
        distinct=rule.distinct,
    )


def state(tier: Tier, status: str, votes: tuple[Vote, ...] = (), exclude_filer: bool = True) -> DecisionState:
    return DecisionState(
        id="D1",
        status=status,
        filed_by="mei",
        tier=tier.number,
        route=route(tier, exclude_filer),
        votes=votes,
        attributes={"x": 1},
        read_fields=frozenset({"x"}),
    )


def test_filing_status_follows_the_tier() -> None:
    assert status_at_filing(TIER1) == "resolved"
    assert status_at_filing(TIER2) == "pending"


@pytest.mark.parametrize("exclude_filer", [True, False], ids=["route excludes filer", "route says filer may"])
@pytest.mark.parametrize(
    ("tier", "status", "action", "actor", "delegation"),
    list(
        itertools.product(
            TIERS, STATUSES, ["approve", "reject", "withdraw", "proceed"], list(ACTORS), list(DELEGATIONS)
        )
    ),
)
def test_every_combination(
    tier: Tier, status: str, action: str, actor: str, delegation: str, exclude_filer: bool
) -> None:
    person = ACTORS[actor]
    delegators = DELEGATIONS[delegation] if actor == "delegate" else []
    s = state(tier, status, exclude_filer=exclude_filer)
    if action == "withdraw":
        if actor != "filer":
            with pytest.raises(Forbidden):
                withdraw(s, person, None)
        elif status != "pending":
            with pytest.raises(Conflict):
                withdraw(s, person, None)
        else:
            assert withdraw(s, person, "changed my mind").status == "withdrawn"
        return
    if action == "proceed":
        if actor != "filer":
            with pytest.raises(Forbidden):
                proceed(s, tier, person, "outage")
        elif status != "pending":
            with pytest.raises(Conflict):
                proceed(s, tier, person, "outage")
        elif not tier.break_glass:
            with pytest.raises(Forbidden):
                proceed(s, tier, person, "outage")
        else:
            assert proceed(s, tier, person, "outage").status == "proceeded_pending_review"
        return
    reason = "needs more data" if action == "reject" else None
    eligible = actor in {"approver", "second approver"} or (actor == "delegate" and delegation == "from approver")
    if tier.self_approved:
        with pytest.raises(Conflict):
            give_verdict(s, tier, person, action, reason, delegators)  # type: ignore[arg-type]
    elif not eligible:
        # The filer never approves their own decision: not directly, not through a delegation.
        with pytest.raises(Forbidden):
            give_verdict(s, tier, person, action, reason, delegators)  # type: ignore[arg-type]
    elif status not in OPEN_STATUSES:
        with pytest.raises(Conflict):
            give_verdict(s, tier, person, action, reason, delegators)  # type: ignore[arg-type]
    else:
        t = give_verdict(s, tier, person, action, reason, delegators)  # type: ignore[arg-type]
        if action == "reject":
            assert t.status == "rejected"
        else:
            assert t.status == ("approved" if tier.approvers and tier.approvers.count == 1 else status)
            assert "mei" not in t.data["approvals"]
            if actor == "delegate":
                assert t.data["on_behalf_of"] == "tomas" and t.data["approvals"] == ["tomas"]


def _reachable_quorums(tier: Tier, exclude_filer: bool = True) -> list[list[str]]:
    """Run every sequence of approvals by every actor (with every delegation) until final."""
    finished: list[list[str]] = []
    frontier = [state(tier, "pending", exclude_filer=exclude_filer)]
    for _ in range(4):
        nxt = []
        for s in frontier:
            for (_, person), (_, delegators) in itertools.product(ACTORS.items(), DELEGATIONS.items()):
                try:
                    t = give_verdict(s, tier, person, "approve", None, delegators if person is DELEGATE else [])
                except DomainError:
                    continue
                votes = tuple(Vote(n, "x", None) for n in t.data["approvals"])
                if t.status == "approved":
                    finished.append(t.data["approvals"])
                else:
                    nxt.append(
                        DecisionState(
                            id="D1",
                            status=t.status,
                            filed_by="mei",
                            tier=tier.number,
                            route=s.route,
                            votes=tuple(
                                Vote(v.principal, r, sq)
                                for v, r, sq in zip(
                                    votes, [t.data["role"]] * len(votes), [t.data["squad"]] * len(votes), strict=True
                                )
                            ),
                        )
                    )
        frontier = nxt
    return finished


@pytest.mark.parametrize("exclude_filer", [True, False], ids=["route excludes filer", "route says filer may"])
@pytest.mark.parametrize("tier", [TIER2, TIER3Q], ids=["single", "pair"])
def test_no_path_lets_the_filer_satisfy_their_own_quorum(tier: Tier, exclude_filer: bool) -> None:
    quorums = _reachable_quorums(tier, exclude_filer)
    assert quorums
    for approvals in quorums:
        assert "mei" not in approvals
        assert len(set(approvals)) == len(approvals) == tier.approvers.count  # type: ignore[union-attr]


def test_a_quorum_needs_distinct_people_and_never_counts_the_filer() -> None:
    s = state(TIER3Q, "pending")
    first = give_verdict(s, TIER3Q, A, "approve", None)
    assert first.status == "pending" and first.data["missing"]
    s = state(TIER3Q, "pending", (Vote("tomas", "director", "nucleus"),))
    with pytest.raises(Conflict):
        give_verdict(s, TIER3Q, A, "approve", None)
    with pytest.raises(Conflict):  # the delegate of an approver who already signed adds nothing
        give_verdict(s, TIER3Q, DELEGATE, "approve", None, [(A, "director")])
    with pytest.raises(Forbidden):
        give_verdict(s, TIER3Q, FILER, "approve", None)
    second = give_verdict(s, TIER3Q, B, "approve", None)
    assert second.status == "approved" and second.data["approvals"] == ["tomas", "priya"]


@pytest.mark.parametrize("tier", [TIER2, TIER3Q, MIXED, SQUADS], ids=lambda t: t.name)
def test_a_route_that_lets_the_filer_approve_still_refuses_the_filer(tier: Tier) -> None:
    """A route from an older log, or from a Policy built past the loader, says `exclude_filer: False` and
    lists the filer among its approvers: the filer is refused in their own right and on anyone's behalf,
    and a delegation from the filer never counts, with the sentence the rules always gave."""
    lenient = tier.approvers and dataclasses.replace(tier.approvers, exclude_filer=False)
    tier = dataclasses.replace(tier, approvers=lenient)  # the tier may say so too: nothing reads it
    s = state(tier, "pending", exclude_filer=False)
    assert s.route.exclude_filer is False and "mei" in s.route.approvers
    refusal = "you filed this decision; its approver must be someone else"
    for verdict, reason in (("approve", None), ("reject", "no")):
        with pytest.raises(Forbidden, match=f"^{refusal}$"):
            give_verdict(s, tier, FILER, verdict, reason)  # type: ignore[arg-type]
        with pytest.raises(Forbidden, match=f"^{refusal}$"):  # holding an approver's delegation changes nothing
            give_verdict(s, tier, FILER, verdict, reason, DELEGATIONS["from approver"])  # type: ignore[arg-type]
        with pytest.raises(Forbidden):  # the filer's delegate has only the filer's authority: none here
            give_verdict(s, tier, DELEGATE, verdict, reason, DELEGATIONS["from filer"])  # type: ignore[arg-type]
    # The filer's delegate who also holds an approver's delegation signs for the approver, never the filer.
    t = give_verdict(s, tier, DELEGATE, "approve", None, [*DELEGATIONS["from filer"], *DELEGATIONS["from approver"]])
    assert t.data["on_behalf_of"] == "tomas" and "mei" not in t.data["approvals"]


def test_quorum_across_roles_and_squads_says_what_is_missing() -> None:
    s = state(MIXED, "pending")
    t = give_verdict(s, MIXED, Person("pm", frozenset({"tech_pm"}), "atlas"), "approve", None)
    assert t.data["role"] == "tech_pm" and t.data["missing"] == "needs 1 more approval(s), from: director"
    s = state(MIXED, "pending", (Vote("pm", "tech_pm", "atlas"),))
    with pytest.raises(Conflict):  # a second tech PM does not fill the director's place
        give_verdict(s, MIXED, Person("pm2", frozenset({"tech_pm"}), "nucleus"), "approve", None)
    assert give_verdict(s, MIXED, Person("dir", frozenset({"director"}), None), "approve", None).status == "approved"
    sq = state(SQUADS, "pending", (Vote("tomas", "tech_pm", "nucleus"),))
    assert "nucleus" in (missing(sq.route, sq.votes) or "")
    with pytest.raises(Conflict):  # same squad again
        give_verdict(sq, SQUADS, Person("t2", frozenset({"tech_pm"}), "nucleus"), "approve", None)
    assert give_verdict(sq, SQUADS, B, "approve", None).status == "approved"


def test_delegation_can_be_forbidden_per_tier() -> None:
    no_delegation = Tier(2, "PM", False, ApproverRule("tech_pm", 1, True, ("tech_pm",)), None, None, delegation=False)
    with pytest.raises(Forbidden, match="delegat"):
        give_verdict(state(no_delegation, "pending"), no_delegation, DELEGATE, "approve", None, [(A, "tech_pm")])


def test_a_rejection_needs_a_reason() -> None:
    with pytest.raises(InvalidInput) as info:
        give_verdict(state(TIER2, "pending"), TIER2, A, "reject", "  ")
    assert info.value.errors[0].path == "$.reason"


def test_amendments_keep_approvals_only_for_changes_declared_immaterial() -> None:
    content = {"title": "t", "category": "c", "attributes": {"x": 1, "note": "a"}}
    s = DecisionState(
        id="D1",
        status="pending",
        filed_by="mei",
        tier=3,
        route=route(TIER3Q),
        votes=(Vote("tomas", "director", "nucleus"),),
        attributes={"x": 1, "note": "a"},
        read_fields=frozenset({"x"}),
        content=content,
    )
    note_changed = {**content, "attributes": {"x": 1, "note": "b"}}
    immaterial = frozenset({"note"})
    kept, dismissed, status = amend(s, FILER, TIER3Q, note_changed, route(TIER3Q), "when_material", immaterial)
    assert (len(kept), dismissed, status) == (1, [], "pending")
    # Not declared immaterial: a field no rule reads still dismisses (the approver approved it).
    _, dismissed, _ = amend(s, FILER, TIER3Q, note_changed, route(TIER3Q), "when_material")
    assert dismissed == ["tomas"]
    x_changed = {**content, "attributes": {"x": 2, "note": "a"}}
    _, dismissed, _ = amend(s, FILER, TIER3Q, x_changed, route(TIER3Q), "when_material", immaterial)
    assert dismissed == ["tomas"]
    _, dismissed, _ = amend(s, FILER, TIER3Q, {**content, "title": "u"}, route(TIER3Q), "when_material", immaterial)
    assert dismissed == ["tomas"]
    _, dismissed, _ = amend(s, FILER, TIER3Q, note_changed, route(TIER3Q), "always", immaterial)
    assert dismissed == ["tomas"]
    # Another tier with the same approver role: the approval does not travel with it.
    other = Tier(2, "PM", False, ApproverRule("director", 2, True, ("director",)), None, None)
    _, dismissed, _ = amend(s, FILER, other, note_changed, route(other), "when_material", immaterial)
    assert dismissed == ["tomas"]
    _, _, status = amend(s, FILER, TIER1, {"x": 0}, route(TIER1), "when_material")
    assert status == "resolved"
    with pytest.raises(Forbidden):
        amend(s, A, TIER3Q, {}, route(TIER3Q), "always")
    for final in FINAL_STATUSES:
        with pytest.raises(Conflict, match="supersedes"):
            amend(state(TIER3Q, final), FILER, TIER3Q, {}, route(TIER3Q), "always")


def test_supersede() -> None:
    assert supersede(state(TIER2, "approved"), "D2").status == "superseded"
    with pytest.raises(Conflict):
        supersede(state(TIER2, "withdrawn"), "D2")
