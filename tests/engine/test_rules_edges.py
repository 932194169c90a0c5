"""The rules at the edges mutation testing found unguarded (docs/mutation.md), as pure tests.

Each test names the behaviour a user would notice if the rule were wrong: a filer breaking the
glass without a break-glass role, one person filling a two-role quorum, a route that forgets
what its approvals must differ in, an amendment that moves a decision to another tier keeping
its approvals, and the rules' view of a stored decision row.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from engine.content import content_hash
from engine.errors import Conflict, Forbidden
from engine.lifecycle import DecisionState, amend, give_verdict, proceed, state_of
from engine.quorum import Vote, acting_role, adds_to_quorum, missing, route_roles, satisfied
from engine.routing import eligibility_refusal, route_for
from engine.types import Route
from policy import PolicyLoadError, load_policy_text
from policy.compiled import ApproverRule, Person, Tier
from tests.support import DEFAULT_POLICY

NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
PM_AND_DIRECTOR = ApproverRule("director", 2, True, ("director", "tech_pm"), "role")
MIXED = Tier(3, "Director and PM", False, PM_AND_DIRECTOR, None, None)
TWO_SQUADS = Tier(2, "Two squads", False, ApproverRule("tech_pm", 2, True, ("tech_pm",), "squad"), None, None)
TECH_PM = Tier(2, "Tech PM", False, ApproverRule("tech_pm", 1, True, ("tech_pm",)), None, None, break_glass=True)

FILER = Person("mei", frozenset({"squad_member"}), "nucleus")
BOTH = Person("vera", frozenset({"director", "tech_pm"}), "atlas")
DIRECTOR = Person("dana", frozenset({"director"}), None)
PM_NUCLEUS = Person("tomas", frozenset({"tech_pm"}), "nucleus")
PM_NUCLEUS_2 = Person("tess", frozenset({"tech_pm"}), "nucleus")
PM_ATLAS = Person("priya", frozenset({"tech_pm"}), "atlas")


def _route(tier: Tier) -> Route:
    rule = tier.approvers
    assert rule is not None
    return Route(
        tier=tier.number,
        role=rule.role,
        count=rule.count,
        exclude_filer=rule.exclude_filer,
        approvers=[],
        roles=list(rule.all_roles),
        distinct=rule.distinct,
    )


def _state(tier: Tier, status: str = "pending", votes: tuple[Vote, ...] = ()) -> DecisionState:
    content = {"title": "t", "category": "contract", "attributes": {"change": "scope"}, "tier": tier.number}
    return DecisionState(
        id="D1",
        status=status,
        filed_by=FILER.name,
        tier=tier.number,
        route=_route(tier),
        votes=votes,
        attributes=content["attributes"],  # type: ignore[arg-type]
        category="contract",
        content=content,
        content_hash=content_hash(content),
    )


def _vote(state: DecisionState, tier: Tier, person: Person, *, by: Person | None = None) -> DecisionState:
    delegators = [(person, role) for role in sorted(person.roles)] if by is not None else []
    t = give_verdict(state, tier, by or person, "approve", None, delegators)
    votes = (*state.votes, Vote(person.name, t.data["role"], person.squad, (by or person).name, state.content_hash))
    return dataclasses.replace(state, votes=votes, status=t.status)


# -- break-glass --------------------------------------------------------------------------------------


def test_break_glass_needs_one_of_the_break_glass_roles() -> None:
    only_pms = dataclasses.replace(TECH_PM, break_glass_roles=frozenset({"tech_pm", "director"}))
    with pytest.raises(Forbidden, match="needs one of director, tech_pm"):
        proceed(_state(only_pms), only_pms, FILER, "the client is waiting")
    pm_filer = dataclasses.replace(_state(only_pms), filed_by=PM_NUCLEUS.name)
    assert proceed(pm_filer, only_pms, PM_NUCLEUS, "the client is waiting").status == "proceeded_pending_review"


# -- distinct: role ---------------------------------------------------------------------------------------


def test_one_person_holding_both_roles_counts_once_on_a_distinct_role_tier() -> None:
    state = _vote(_state(MIXED), MIXED, BOTH)
    assert state.status == "pending"
    with pytest.raises(Conflict, match="distinct people"):
        give_verdict(state, MIXED, BOTH, "approve", None)
    # Two votes by one human in two roles are not a quorum, whichever way they were recorded.
    twice = (Vote(BOTH.name, "director", "atlas", BOTH.name), Vote(BOTH.name, "tech_pm", "atlas", BOTH.name))
    assert not satisfied(_route(MIXED), twice)
    assert missing(_route(MIXED), twice) == "needs 1 more approval(s), from: tech_pm"
    assert not adds_to_quorum(_route(MIXED), twice[:1], twice[1])
    # Someone else in the lacking role completes it.
    assert _vote(state, MIXED, PM_NUCLEUS).status == "approved"


def test_one_person_cannot_sign_both_roles_through_a_delegation() -> None:
    state = _vote(_state(MIXED), MIXED, DIRECTOR, by=PM_NUCLEUS)  # tomas signs for dana, as director
    with pytest.raises(Conflict, match="distinct people"):
        give_verdict(state, MIXED, PM_NUCLEUS, "approve", None)  # and again in his own right as tech_pm
    assert not satisfied(_route(MIXED), (*state.votes, Vote(PM_NUCLEUS.name, "tech_pm", "nucleus", PM_NUCLEUS.name)))


def test_the_role_signed_in_is_one_the_quorum_still_lacks() -> None:
    route = _route(MIXED)
    assert acting_role(route, ["director", "tech_pm"], ()) == "director"
    taken = (Vote("dana", "director", None),)
    assert acting_role(route, ["director", "tech_pm"], taken) == "tech_pm"
    assert acting_role(route, ["director"], taken) is None
    plain = msgspec.structs.replace(route, distinct="person")
    assert acting_role(plain, ["director"], taken) == "director"


def test_distinct_squads_count_squads_not_people() -> None:
    route = _route(TWO_SQUADS)
    same_squad = (Vote("tomas", "tech_pm", "nucleus"), Vote("tess", "tech_pm", "nucleus"))
    assert not satisfied(route, same_squad)
    assert not adds_to_quorum(route, same_squad[:1], same_squad[1])
    assert "from a squad not yet counted (counted: nucleus)" in (missing(route, same_squad) or "")
    assert satisfied(route, (same_squad[0], Vote("priya", "tech_pm", "atlas")))
    assert not adds_to_quorum(route, (), Vote("ann", "tech_pm", None))  # no squad: nothing to count
    state = _vote(_state(TWO_SQUADS), TWO_SQUADS, PM_NUCLEUS)
    with pytest.raises(Conflict, match="would not count"):
        give_verdict(state, TWO_SQUADS, PM_NUCLEUS_2, "approve", None)
    assert _vote(state, TWO_SQUADS, PM_ATLAS).status == "approved"


def test_missing_names_what_a_plain_quorum_needs() -> None:
    route = Route(tier=3, role="director", count=2, exclude_filer=True, approvers=[], roles=["director"])
    assert missing(route, ()) == "needs 2 more approval(s) by a director"
    assert missing(route, (Vote("dana", "director", None),)) == "needs 1 more approval(s) by a director"
    assert missing(route, (Vote("dana", "director", None), Vote("dora", "director", None))) is None
    assert route_roles(Route(tier=1, role=None, count=0, exclude_filer=False, approvers=[])) == []
    assert missing(Route(tier=1, role=None, count=0, exclude_filer=False, approvers=[]), ()) is None


# -- routing ------------------------------------------------------------------------------------------------


def test_a_route_keeps_every_role_and_what_the_approvals_must_differ_in() -> None:
    text = DEFAULT_POLICY.read_text(encoding="utf-8").replace(
        "approvers: {role: director, count: 1, exclude_filer: true}",
        "approvers: {roles: [director, tech_pm], count: 2, distinct: role, exclude_filer: true}",
    )
    policy = load_policy_text(text, "mixed.yaml")
    route = route_for(policy, 3, "tomas")
    assert route.roles == ["director", "tech_pm"]
    assert route.distinct == "role" and route.count == 2 and route.role == "director"
    assert route.exclude_filer is True
    assert route.approvers == ["dana", "priya"]  # tomas filed it
    assert route_for(policy, 3, "mei").approvers == ["dana", "priya", "tomas"]
    squad = route_for(policy, 1, "mei")
    assert (squad.role, squad.count, squad.approvers, squad.roles) == (None, 0, [], [])


def test_no_route_lists_its_filer_whatever_the_tier_says() -> None:
    text = DEFAULT_POLICY.read_text(encoding="utf-8").replace(
        "approvers: {role: director, count: 1, exclude_filer: true}",
        "approvers: {role: director, count: 1, exclude_filer: false}",
    )
    with pytest.raises(PolicyLoadError, match="the filer never approves their own decision"):
        load_policy_text(text, "lenient.yaml")
    # A Policy built past the loader that says the filer may approve routes exactly as one that does not.
    policy = load_policy_text(DEFAULT_POLICY.read_text(encoding="utf-8"))
    tier = policy.tiers[3]
    assert tier.approvers is not None
    lenient_tier = dataclasses.replace(tier, approvers=dataclasses.replace(tier.approvers, exclude_filer=False))
    lenient = dataclasses.replace(policy, tiers={**policy.tiers, 3: lenient_tier})
    for p in (policy, lenient):
        route = route_for(p, 3, "dana")
        assert route.exclude_filer is True
        assert route.approvers == []  # she filed it: nobody else holds director
        assert route_for(p, 3, "mei").approvers == ["dana"]


def test_eligibility_names_the_roles_a_tier_needs() -> None:
    route = _route(MIXED)
    assert eligibility_refusal(MIXED, route, "mei", PM_NUCLEUS) is None  # the second role counts too
    refusal = eligibility_refusal(MIXED, route, "ravi", FILER)
    assert refusal == "tier 3 (Director and PM) needs a director or tech_pm to sign off; mei holds squad_member"
    assert eligibility_refusal(MIXED, route, "tomas", PM_NUCLEUS) == (
        "you filed this decision; its approver must be someone else"
    )
    nobody = Person("x", frozenset(), None)
    assert "x holds no role" in (eligibility_refusal(MIXED, route, "mei", nobody) or "")
    two_roles = Person("ann", frozenset({"squad_member", "auditor"}), None)
    assert eligibility_refusal(MIXED, route, "mei", two_roles) == (
        "tier 3 (Director and PM) needs a director or tech_pm to sign off; ann holds auditor, squad_member"
    )
    # A route logged under an older policy that let the filer approve: still not the filer.
    lenient = msgspec.structs.replace(route, exclude_filer=False, approvers=["tomas"])
    assert eligibility_refusal(MIXED, lenient, "tomas", PM_NUCLEUS) == (
        "you filed this decision; its approver must be someone else"
    )
    assert eligibility_refusal(MIXED, lenient, "mei", PM_NUCLEUS) is None


# -- amendments -----------------------------------------------------------------------------------------------


def test_an_amendment_to_another_tier_with_the_same_approver_role_dismisses_approvals() -> None:
    tier2 = Tier(2, "PM", False, ApproverRule("tech_pm", 2, True, ("tech_pm",)), None, None)
    tier3 = Tier(3, "PM pair", False, ApproverRule("tech_pm", 2, True, ("tech_pm",)), None, None)
    state = _vote(_state(tier2), tier2, PM_NUCLEUS)
    same_content = {**state.content, "tier": 3}
    kept, dismissed, status = amend(state, FILER, tier3, same_content, _route(tier3), "when_material")
    assert kept == [] and dismissed == ["tomas"] and status == "pending"
    # The same tier and content keeps it; `always` never does.
    kept, dismissed, _ = amend(state, FILER, tier2, state.content, _route(tier2), "when_material")
    assert [v.principal for v in kept] == ["tomas"] and dismissed == []
    kept, dismissed, _ = amend(state, FILER, tier2, state.content, _route(tier2), "always")
    assert kept == [] and dismissed == ["tomas"]


def test_only_fields_declared_immaterial_keep_approvals() -> None:
    tier = Tier(2, "PM", False, ApproverRule("tech_pm", 2, True, ("tech_pm",)), None, None)
    state = _vote(_state(tier), tier, PM_NUCLEUS)
    moved = {**state.content, "attributes": {"change": "scope", "note": "typo"}}
    kept, _, _ = amend(state, FILER, tier, moved, _route(tier), "when_material", frozenset({"note"}))
    assert len(kept) == 1
    kept, _, _ = amend(state, FILER, tier, moved, _route(tier), "when_material", frozenset())
    assert kept == []
    retitled = {**state.content, "title": "another"}
    kept, _, _ = amend(state, FILER, tier, retitled, _route(tier), "when_material", frozenset({"note"}))
    assert kept == []
    for change in ({"count": 3}, {"distinct": "squad"}, {"roles": ["tech_pm", "director"]}, {"role": "director"}):
        other = msgspec.structs.replace(_route(tier), **change)
        kept, _, _ = amend(state, FILER, tier, state.content, other, "when_material")
        assert kept == [], change


def test_an_amendment_that_keeps_a_met_quorum_approves_and_a_squad_tier_resolves() -> None:
    two = Tier(2, "PM", False, ApproverRule("tech_pm", 2, True, ("tech_pm",)), None, None)
    state = _vote(_vote(_state(two), two, PM_NUCLEUS), two, PM_ATLAS)
    assert state.status == "approved"
    # (A pending decision whose carried approvals already meet the quorum is approved by the amendment.)
    pending = dataclasses.replace(state, status="pending")
    assert amend(pending, FILER, two, state.content, _route(two), "when_material")[2] == "approved"
    state = _vote(_state(two), two, PM_NUCLEUS)
    squad = Tier(2, "Squad", True, None, None, None)
    assert amend(state, FILER, squad, state.content, _route(two), "when_material")[2] == "resolved"


# -- the rules' view of a stored row ---------------------------------------------------------------------------


def _row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": "D9",
        "status": "pending",
        "filed_by": "mei",
        "tier": 3,
        "route": {"tier": 3, "role": "director", "count": 2, "exclude_filer": True, "approvers": ["dana"]},
        "title": "t",
        "category": "contract",
        "attributes": {"change": "scope"},
        "rationale": None,
        "client": None,
        "links": [],
        "supersedes": "D1",
        "squad": "nucleus",
        "known_category": True,
        "matched_rules": [{"id": "r", "tier": 3, "reads": ["change"]}, {"id": "s", "tier": 3}],
        "approvals": [],
    }
    row.update(changes)
    return row


def _approval(approver: str, **changes: Any) -> dict[str, Any]:
    return {"approver": approver, "verdict": "approve", "role": "director", "squad": None, **changes}


def test_state_of_is_the_decision_as_the_rules_see_it() -> None:
    current = content_hash(_row())
    row = _row(
        approvals=[
            _approval("dana", content_hash=current),
            _approval("jon", on_behalf_of="dora", squad="atlas", content_hash=current),
            _approval("old", content_hash="0" * 64),  # bound to content since amended
            _approval("gone", dismissed=True),
            _approval("no", verdict="reject", reason="x"),
            _approval("legacy"),  # logged before approvals carried a hash: bound to what it saw
        ]
    )
    state = state_of(row)
    assert (state.id, state.status, state.filed_by, state.tier) == ("D9", "pending", "mei", 3)
    assert state.route.role == "director" and state.route.count == 2 and state.route.roles == []
    assert state.approvals == ("dana", "dora", "legacy")
    assert [v.human for v in state.votes] == ["dana", "jon", "legacy"]
    assert state.votes[1] == Vote("dora", "director", "atlas", "jon", current)
    assert state.read_fields == frozenset({"change"})
    assert (state.category, state.squad, state.supersedes, state.known_category) == ("contract", "nucleus", "D1", True)
    assert state.content_hash == current
    assert state.content["attributes"] == {"change": "scope"} and "tier" not in state.content
    assert state.attributes == {"change": "scope"}


def test_content_hash_covers_every_content_key() -> None:
    base = _row()
    for key, value in [
        ("title", "u"),
        ("category", "benchmark"),
        ("attributes", {"change": "term"}),
        ("rationale", "why"),
        ("client", "acme"),
        ("links", ["https://x"]),
        ("supersedes", None),
        ("tier", 2),
    ]:
        assert content_hash({**base, key: value}) != content_hash(base), key
    assert content_hash({**base, "status": "approved", "approvals": [1]}) == content_hash(base)


def test_a_delegation_in_force_is_bounded_by_its_dates() -> None:
    from engine.lifecycle import Authority, Grant, decide

    policy = load_policy_text(DEFAULT_POLICY.read_text(encoding="utf-8"), "default.yaml")
    grant = Grant("G1", "tomas", "jon", "tech_pm", NOW, NOW + timedelta(hours=1))
    assert grant.in_force(NOW) and not grant.in_force(NOW + timedelta(hours=1))
    assert not grant.in_force(NOW - timedelta(seconds=1))
    assert not dataclasses.replace(grant, revoked=True).in_force(NOW)
    authority = Authority(policy, NOW, (grant,))
    assert authority.delegators(policy.people["jon"]) == [(policy.people["tomas"], "tech_pm")]
    assert authority.delegators(policy.people["mei"]) == []
    later = Authority(policy, NOW + timedelta(hours=2), (grant,))
    assert later.delegators(policy.people["jon"]) == []
    assert decide is not None


def test_one_human_signing_for_two_delegators_is_one_vote() -> None:
    route = _route(MIXED)
    jon_twice = (Vote("dana", "director", None, "jon"), Vote("tomas", "tech_pm", "nucleus", "jon"))
    assert not satisfied(route, jon_twice)
    assert missing(route, jon_twice) == "needs 1 more approval(s), from: tech_pm"
    assert not adds_to_quorum(route, jon_twice[:1], jon_twice[1])
    assert not adds_to_quorum(route, (Vote("dana", "director", None, "dana"),), Vote("dana", "tech_pm", None, "jon"))
    # A repeat is skipped, not the end of the count: a later distinct vote still counts.
    repeat = (Vote("dana", "director", None), Vote("dana", "tech_pm", None), Vote("tomas", "tech_pm", "nucleus"))
    assert satisfied(route, repeat)


def test_what_is_missing_in_words() -> None:
    both = Route(tier=3, role="director", count=2, exclude_filer=True, approvers=[], roles=["director", "tech_pm"])
    assert missing(msgspec.structs.replace(both, distinct="role"), ()) == (
        "needs 2 more approval(s), from: director, tech_pm"
    )
    assert missing(both, ()) == "needs 2 more approval(s) by a director or tech_pm"
    squads = msgspec.structs.replace(both, distinct="squad", count=3)
    assert missing(squads, ()) == (
        "needs 3 more approval(s) by a director or tech_pm from a squad not yet counted (counted: none yet)"
    )
    two = (Vote("priya", "tech_pm", "atlas"), Vote("tomas", "tech_pm", "nucleus"))
    assert missing(squads, two) == (
        "needs 1 more approval(s) by a director or tech_pm from a squad not yet counted (counted: atlas, nucleus)"
    )
    only_role = Route(tier=3, role="director", count=1, exclude_filer=True, approvers=[])
    assert route_roles(only_role) == ["director"]
    assert missing(only_role, ()) == "needs 1 more approval(s) by a director"


def test_a_vote_without_a_squad_counts_for_no_squad() -> None:
    """distinct: squad — an approver the directory gives no squad adds no squad to the count."""
    route = _route(TWO_SQUADS)
    squadless = (Vote("ann", "tech_pm", None), Vote("priya", "tech_pm", "atlas"))
    assert not satisfied(route, squadless)
    assert missing(route, squadless) == (
        "needs 1 more approval(s) by a tech_pm from a squad not yet counted (counted: atlas)"
    )
    assert satisfied(route, (*squadless, Vote("tomas", "tech_pm", "nucleus")))


def test_a_vote_skipped_for_its_squad_does_not_use_up_its_people() -> None:
    """A vote that adds nothing (its squad is counted) leaves its approver free to count later, for
    another principal: tess's own vote repeats nucleus, her signature for priya brings atlas."""
    route = _route(TWO_SQUADS)
    votes = (
        Vote("tomas", "tech_pm", "nucleus"),
        Vote("tess", "tech_pm", "nucleus"),
        Vote("priya", "tech_pm", "atlas", "tess"),
    )
    assert satisfied(route, votes)
    assert missing(route, votes) is None
