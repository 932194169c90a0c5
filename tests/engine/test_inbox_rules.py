"""What may wait on a person (`inbox_scope`, `may_sign`) and the baseline import, as pure rules.

The inbox query filters on the tiers `inbox_scope` names, so a tier it forgets is a decision an
approver never sees, and one it adds is only filtered out later by `may_sign`: both are read by
people deciding what to approve. tests/engine/test_inbox_equivalence.py checks the two against
each other through the database; these pin each rule on its own (docs/mutation.md).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from engine.errors import Forbidden, InvalidInput
from engine.lifecycle import (
    Authority,
    DecisionState,
    InboxTier,
    RecordBaseline,
    decide,
    delegable_roles,
    inbox_scope,
    may_sign,
    offered_steps,
)
from engine.quorum import Vote
from engine.routing import approver_groups, groups_giving, route_for
from policy import PolicyLoadError, load_policy_text
from policy.compiled import ApproverRule, Person, Policy
from tests.support import DEFAULT_POLICY

NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
TEXT = DEFAULT_POLICY.read_text(encoding="utf-8")
POLICY = load_policy_text(TEXT, "policies.yaml")
PEOPLE = POLICY.people
TIER_2 = "approvers: {role: tech_pm, count: 1, exclude_filer: true}, review: director_review, sla: 3d,"


def _variant(old: str, new: str) -> Policy:
    assert TEXT.count(old) == 1, old
    return load_policy_text(TEXT.replace(old, new), "variant.yaml")


def _pending(policy: Policy, tier: int, filer: str = "mei", votes: tuple[Vote, ...] = ()) -> DecisionState:
    return DecisionState(
        id="D1",
        status="pending",
        filed_by=filer,
        tier=tier,
        route=route_for(policy, tier, filer),
        votes=votes,
        content_hash="h",
    )


# -- inbox_scope ---------------------------------------------------------------------------------------


def test_an_approver_in_their_own_right_sees_the_tier_they_sign() -> None:
    assert inbox_scope(POLICY, PEOPLE["tomas"], [], NOW) == [InboxTier(2, True, None)]


def test_an_overdue_tier_escalates_to_the_role_it_names() -> None:
    # Tier 2 escalates to the director after its 3-day SLA; tier 3 is the director's own and escalates nowhere.
    assert inbox_scope(POLICY, PEOPLE["dana"], [], NOW) == [
        InboxTier(2, False, NOW - timedelta(days=3)),
        InboxTier(3, True, None),
    ]


def test_an_overdue_tier_escalates_to_the_person_it_names() -> None:
    policy = _variant("remind: [50%, 90%], escalate_to: director}", "remind: [50%, 90%], escalate_to: mei}")
    assert inbox_scope(policy, policy.people["mei"], [], NOW) == [InboxTier(2, False, NOW - timedelta(days=3))]
    assert inbox_scope(policy, policy.people["dana"], [], NOW) == [InboxTier(3, True, None)]


def test_a_tier_without_an_sla_escalates_to_nobody() -> None:
    tier = dataclasses.replace(POLICY.tiers[2], sla=None)
    policy = dataclasses.replace(POLICY, tiers={**POLICY.tiers, 2: tier})
    assert inbox_scope(policy, PEOPLE["dana"], [], NOW) == [InboxTier(3, True, None)]


def test_people_with_no_approver_role_see_nothing() -> None:
    for name in ("mei", "ann", "adm"):
        assert inbox_scope(POLICY, PEOPLE[name], [], NOW) == [], name


def test_a_delegate_sees_the_tiers_of_the_roles_delegated_to_them() -> None:
    mei = PEOPLE["mei"]
    assert inbox_scope(POLICY, mei, [(PEOPLE["tomas"], "tech_pm")], NOW) == [InboxTier(2, True, None)]
    assert inbox_scope(POLICY, mei, [(PEOPLE["dana"], "director")], NOW) == [InboxTier(3, True, None)]


def test_a_tier_that_refuses_delegated_sign_off_is_not_in_a_delegate_inbox() -> None:
    policy = _variant(TIER_2, TIER_2 + " delegation: false,")
    assert not policy.tiers[2].delegation
    assert inbox_scope(policy, policy.people["mei"], [(policy.people["tomas"], "tech_pm")], NOW) == []


def test_a_delegated_role_counts_for_any_of_a_tier_roles() -> None:
    policy = _variant(
        "approvers: {role: director, count: 1, exclude_filer: true}",
        "approvers: {roles: [director, tech_pm], count: 2, distinct: role, exclude_filer: true}",
    )
    mei = policy.people["mei"]
    assert InboxTier(3, True, None) in inbox_scope(policy, mei, [(policy.people["tomas"], "tech_pm")], NOW)


def test_no_tier_puts_the_filer_own_decision_in_their_inbox_whatever_it_says() -> None:
    with pytest.raises(PolicyLoadError, match="exclude_filer: false"):
        _variant(TIER_2, TIER_2.replace("exclude_filer: true", "exclude_filer: false"))
    # A Policy built past the loader saying the filer may approve: the same scope, and the filer may not sign.
    tier = POLICY.tiers[2]
    assert tier.approvers is not None
    lenient_tier = dataclasses.replace(tier, approvers=dataclasses.replace(tier.approvers, exclude_filer=False))
    lenient = dataclasses.replace(POLICY, tiers={**POLICY.tiers, 2: lenient_tier})
    tomas = PEOPLE["tomas"]
    assert inbox_scope(lenient, tomas, [], NOW) == inbox_scope(POLICY, tomas, [], NOW) == [InboxTier(2, True, None)]
    own = _pending(lenient, 2, filer="tomas")
    assert "tomas" not in own.route.approvers
    assert may_sign(own, lenient_tier, tomas, []) is False
    assert may_sign(own, lenient_tier, PEOPLE["mei"], [(tomas, "tech_pm")]) is False  # a delegation from him
    assert may_sign(own, lenient_tier, PEOPLE["priya"], []) is None


# -- may_sign --------------------------------------------------------------------------------------------


def test_may_sign_in_their_own_right_on_behalf_or_not_at_all() -> None:
    tier = POLICY.tiers[2]
    state = _pending(POLICY, 2)
    assert may_sign(state, tier, PEOPLE["tomas"], []) is None
    assert may_sign(state, tier, PEOPLE["ravi"], [(PEOPLE["tomas"], "tech_pm")]) == "tomas"
    assert may_sign(state, tier, PEOPLE["dana"], []) is False  # Forbidden: not a tech PM
    assert may_sign(state, tier, PEOPLE["mei"], [(PEOPLE["tomas"], "tech_pm")]) is False  # her own
    assert may_sign(dataclasses.replace(state, status="approved"), tier, PEOPLE["tomas"], []) is False  # Conflict


def test_may_sign_is_false_when_the_approval_would_not_count() -> None:
    """Both roles of a `distinct: role` quorum: a second tech PM's approval adds nothing."""
    rule = ApproverRule("director", 2, True, ("director", "tech_pm"), "role")
    tier = dataclasses.replace(POLICY.tiers[3], approvers=rule)
    policy = dataclasses.replace(POLICY, tiers={**POLICY.tiers, 3: tier})
    priya = Vote("priya", "tech_pm", "atlas", "priya", "h")
    state = _pending(policy, 3, votes=(priya,))
    assert may_sign(state, tier, PEOPLE["tomas"], []) is False
    assert may_sign(state, tier, PEOPLE["dana"], []) is None


# -- baseline import --------------------------------------------------------------------------------------


def _authority() -> Authority:
    return Authority(POLICY, NOW)


BASELINE = RecordBaseline(digest="ab" * 32, rows=1, first_day="2026-01-05", last_day="2026-01-06", source="b.csv")


def test_an_admin_records_a_baseline_of_at_least_one_row() -> None:
    outcome = decide(BASELINE, PEOPLE["adm"], _authority())
    [event] = outcome.events
    assert (event.type, event.decision_id, event.actor) == ("baseline_imported", None, "adm")
    assert event.data == {
        "digest": "ab" * 32,
        "rows": 1,
        "first_day": "2026-01-05",
        "last_day": "2026-01-06",
        "source": "b.csv",
    }


def test_only_an_admin_records_a_baseline_and_never_an_empty_one() -> None:
    with pytest.raises(Forbidden) as refused:
        decide(BASELINE, PEOPLE["dana"], _authority())
    assert str(refused.value) == "dana may not import a baseline; an admin does"
    with pytest.raises(InvalidInput) as empty:
        decide(dataclasses.replace(BASELINE, rows=0), PEOPLE["adm"], _authority())
    [error] = empty.value.errors
    assert (error.path, error.message) == ("$.rows", "a baseline needs at least one row")


def test_a_claim_given_admin_records_a_baseline() -> None:
    kim = Person("kim", frozenset({"squad_member", "admin"}), authority=(("admin", "groups=admins"),))
    assert decide(BASELINE, kim, _authority()).events[0].actor == "kim"


def test_may_sign_is_false_when_the_vote_would_repeat_a_counted_squad() -> None:
    """A role the quorum takes, but from a squad already counted (`distinct: squad`): it would not count."""
    rule = ApproverRule("tech_pm", 2, True, ("tech_pm",), "squad")
    tier = dataclasses.replace(POLICY.tiers[2], approvers=rule)
    policy = dataclasses.replace(POLICY, tiers={**POLICY.tiers, 2: tier})
    state = _pending(policy, 2, votes=(Vote("tess", "tech_pm", "nucleus", "tess", "h"),))
    assert may_sign(state, tier, PEOPLE["tomas"], []) is False  # nucleus again
    assert may_sign(state, tier, PEOPLE["priya"], []) is None  # atlas


# -- the groups an approver may come from (routing) ----------------------------------------------------------

GROUPS = (
    "\nidentity:\n  approver_roles_from_idp: true\n  groups:\n"
    "    readers: {roles: [auditor]}\n    pms: {roles: [tech_pm]}\n    leads: {roles: [director, tech_pm]}\n"
)


def test_a_route_names_the_groups_whose_members_may_sign_it() -> None:
    policy = load_policy_text(TEXT + GROUPS, "groups.yaml")
    assert approver_groups(policy, route_for(policy, 2, "mei")) == ["pms", "leads"]
    assert approver_groups(policy, route_for(policy, 3, "mei")) == ["leads"]
    assert approver_groups(policy, route_for(policy, 1, "mei")) == []  # the squad resolves it: nobody signs
    assert groups_giving(policy, ["auditor", "director"]) == ["readers", "leads"]


def test_no_group_names_an_approver_where_the_policy_takes_approver_roles_from_people_only() -> None:
    policy = load_policy_text(TEXT + "\nidentity:\n  groups:\n    readers: {roles: [auditor]}\n", "plain.yaml")
    assert approver_groups(policy, route_for(policy, 2, "mei")) == []
    assert groups_giving(policy, ["auditor"]) == []


def test_a_route_of_two_roles_names_the_groups_of_either() -> None:
    text = TEXT.replace(
        "approvers: {role: director, count: 1, exclude_filer: true}",
        "approvers: {roles: [director, tech_pm], count: 2, distinct: role, exclude_filer: true}",
    )
    policy = load_policy_text(
        text + "\nidentity:\n  approver_roles_from_idp: true\n  groups:\n"
        "    pms: {roles: [tech_pm]}\n    directors: {roles: [director]}\n",
        "two-roles.yaml",
    )
    assert approver_groups(policy, route_for(policy, 3, "mei")) == ["pms", "directors"]


def test_a_tier_nobody_signs_can_still_escalate_and_says_it_is_not_signed() -> None:
    """`sign` is False, not merely falsy, for a tier the squad resolves (as the store filters on it)."""
    escalating = dataclasses.replace(POLICY.tiers[1], sla=timedelta(days=1), escalate_to="director")
    policy = dataclasses.replace(POLICY, tiers={**POLICY.tiers, 1: escalating})
    [first, *_] = inbox_scope(policy, PEOPLE["dana"], [], NOW)
    assert first == InboxTier(1, False, NOW - timedelta(days=1)) and first.sign is False


# -- what a page offers (offered_steps) and which sign-offs a person may delegate ---------------------------------


def _steps(state: DecisionState, who: str, tier: int | None = 2) -> frozenset[str]:
    number = None if tier is None else POLICY.tiers[tier]
    return offered_steps(state, number, PEOPLE[who], _authority(), [])


def test_each_person_is_offered_the_steps_the_rules_would_take() -> None:
    pending = dataclasses.replace(_pending(POLICY, 2), squad="nucleus")
    assert _steps(pending, "mei") == {"withdraw", "amend", "proceed", "comment"}
    assert _steps(pending, "tomas") == {"decide", "comment"}
    assert _steps(pending, "ann") == frozenset()  # an auditor only reads
    assert _steps(pending, "mei", tier=None) == {"withdraw", "amend", "comment"}  # no tier: no verdict, no glass
    assert _steps(pending, "tomas", tier=None) == {"comment"}
    resolved = dataclasses.replace(_pending(POLICY, 1), status="resolved", squad="nucleus")
    assert _steps(resolved, "mei", tier=1) == {"comment", "supersede"}
    assert _steps(resolved, "jon", tier=1) == {"comment", "supersede"}  # same squad
    assert _steps(resolved, "ravi", tier=1) == {"comment"}


def test_a_person_may_delegate_only_sign_offs_a_tier_lets_be_delegated() -> None:
    assert delegable_roles(POLICY, frozenset({"squad_member", "tech_pm", "director"})) == ["director", "tech_pm"]
    no_pm = dataclasses.replace(POLICY.tiers[2], delegation=False)
    policy = dataclasses.replace(POLICY, tiers={**POLICY.tiers, 2: no_pm})
    assert delegable_roles(policy, frozenset({"tech_pm", "director"})) == ["director"]
    assert delegable_roles(POLICY, frozenset({"admin"})) == []


def test_supersede_is_offered_to_an_approver_in_their_own_right_and_never_to_a_reader() -> None:
    approved = dataclasses.replace(_pending(POLICY, 3, filer="ravi"), status="approved")
    assert "supersede" in _steps(approved, "dana", tier=3)  # may approve it: reads the policy's tier 3
    assert "supersede" not in _steps(approved, "tomas", tier=3)
    resolved = dataclasses.replace(_pending(POLICY, 1), status="resolved", squad="nucleus")
    reader = Person("ana", frozenset({"auditor"}), "nucleus")  # in the squad, but reads only
    assert offered_steps(resolved, POLICY.tiers[1], reader, _authority(), []) == frozenset()
