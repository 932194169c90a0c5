"""The decision lifecycle (pure).

    filed -> resolved                                   (tier the squad resolves)
    filed -> pending -> approved | rejected | withdrawn
    pending -> proceeded_pending_review -> approved | rejected   (break-glass, ratified after the fact)
    resolved | approved -> superseded                   (a newer decision replaced it)

Every function takes the current state and returns the event to append (type and
data) or raises Forbidden/Conflict/InvalidInput with a sentence saying why. Nothing
here reads a clock or a database; delegations in force are passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from engine.errors import Conflict, Forbidden, InvalidInput
from engine.quorum import Vote, acting_role, adds_to_quorum, missing, satisfied
from engine.routing import eligibility_refusal
from engine.types import FINAL_STATUSES, OPEN_STATUSES, Route, Verdict
from policy.compiled import FieldError, Person, Tier


@dataclass(frozen=True, slots=True)
class DecisionState:
    id: str
    status: str
    filed_by: str
    tier: int
    route: Route
    #: The approvals that count (not dismissed), in order.
    votes: tuple[Vote, ...] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)
    #: Attribute names read by the rules that matched at the last classification.
    read_fields: frozenset[str] = frozenset()

    @property
    def approvals(self) -> tuple[str, ...]:
        return tuple(v.principal for v in self.votes)


@dataclass(frozen=True, slots=True)
class Transition:
    event_type: str
    data: dict[str, Any]
    status: str


def state_of(row: Mapping[str, Any]) -> DecisionState:
    """The lifecycle's view of a decision row."""
    return DecisionState(
        id=row["id"],
        status=row["status"],
        filed_by=row["filed_by"],
        tier=row["tier"],
        route=msgspec.convert(row["route"], Route),
        votes=tuple(
            Vote(a.get("on_behalf_of") or a["approver"], a["role"], a.get("squad"))
            for a in row["approvals"]
            if a["verdict"] == "approve" and not a.get("dismissed")
        ),
        attributes=row["attributes"],
        read_fields=frozenset(f for m in row["matched_rules"] for f in m.get("reads", [])),
    )


def status_at_filing(tier: Tier) -> str:
    return "resolved" if tier.self_approved else "pending"


def _refuse_if_closed(state: DecisionState, action: str) -> None:
    if state.status in FINAL_STATUSES:
        raise Conflict(f"decision {state.id} is already {state.status}; it cannot be {action}")


def give_verdict(
    state: DecisionState,
    tier: Tier,
    actor: Person,
    verdict: Verdict,
    reason: str | None,
    delegators: Sequence[tuple[Person, str]] = (),
) -> Transition:
    """`delegators`: (person, role) pairs whose authority `actor` holds by delegation right now."""
    route = state.route
    own_refusal = eligibility_refusal(tier, route, state.filed_by, actor)
    if own_refusal is not None and route.role is None:
        raise Conflict(own_refusal)
    if route.exclude_filer and actor.name == state.filed_by:
        # Never, not even on someone else's behalf: a filer cannot satisfy their own quorum.
        raise Forbidden("you filed this decision; its approver must be someone else")
    candidates: list[tuple[Person, str | None, Sequence[str]]] = []
    if own_refusal is None:
        candidates.append((actor, None, sorted(actor.roles)))
    if tier.delegation:
        for delegator, role in delegators:
            if route.exclude_filer and delegator.name == state.filed_by:
                continue
            candidates.append((delegator, delegator.name, [role]))
    if not candidates:
        if delegators and not tier.delegation:
            raise Forbidden(f"tier {tier.number} ({tier.name}) does not allow delegated sign-off")
        raise Forbidden(own_refusal or "your delegations do not cover this decision")
    _refuse_if_closed(state, "approved or rejected")
    if state.status not in OPEN_STATUSES:
        raise Conflict(f"decision {state.id} is {state.status}; nothing to approve")
    chosen: tuple[Person, str | None, str] | None = None
    for principal, on_behalf_of, roles in candidates:
        acting = acting_role(route, roles, state.votes)
        if acting is None or principal.name in state.approvals:
            continue
        if verdict == "approve" and not adds_to_quorum(
            route, state.votes, Vote(principal.name, acting, principal.squad)
        ):
            continue
        chosen = (principal, on_behalf_of, acting)
        break
    if chosen is None:
        if actor.name in state.approvals:
            raise Conflict(f"{actor.name} has already approved this decision; a quorum needs distinct people")
        raise Conflict(f"your approval would not count: {missing(route, state.votes) or 'the quorum is already met'}")
    principal, on_behalf_of, role = chosen
    vote = Vote(principal.name, role, principal.squad)
    if verdict == "reject":
        if not reason or not reason.strip():
            raise InvalidInput([FieldError("$.reason", "a rejection needs a reason the filer can act on")])
        votes = list(state.votes)
        status = "rejected"
    else:
        votes = [*state.votes, vote]
        status = "approved" if satisfied(route, votes) else state.status
    return Transition(
        event_type="approval_recorded",
        data={
            "verdict": verdict,
            "reason": reason,
            "role": role,
            "squad": principal.squad,
            "on_behalf_of": on_behalf_of,
            "approvals": [v.principal for v in votes],
            "missing": missing(route, votes) if status in OPEN_STATUSES else None,
            "status": status,
        },
        status=status,
    )


def withdraw(state: DecisionState, actor: Person, reason: str | None) -> Transition:
    if actor.name != state.filed_by:
        raise Forbidden(f"only the filer ({state.filed_by}) may withdraw this decision")
    _refuse_if_closed(state, "withdrawn")
    if state.status != "pending":
        raise Conflict(f"decision {state.id} already proceeded under break-glass; it can only be ratified or rejected")
    return Transition(
        event_type="decision_withdrawn", data={"reason": reason, "status": "withdrawn"}, status="withdrawn"
    )


def proceed(state: DecisionState, tier: Tier, actor: Person, reason: str) -> Transition:
    """Break-glass: the filer proceeds now; approvers ratify or reject after the fact."""
    if actor.name != state.filed_by:
        raise Forbidden(f"only the filer ({state.filed_by}) may break the glass on this decision")
    _refuse_if_closed(state, "proceeded with")
    if state.status != "pending":
        raise Conflict(f"decision {state.id} is {state.status}, not pending")
    if not tier.break_glass:
        raise Forbidden(f"the policy does not allow break-glass for tier {tier.number} ({tier.name})")
    if not actor.roles & tier.break_glass_roles:
        raise Forbidden(
            f"{actor.name} may not break the glass: it needs one of {', '.join(sorted(tier.break_glass_roles))}"
        )
    if not reason.strip():
        raise InvalidInput([FieldError("$.reason", "break-glass needs a reason: what harm does waiting cause?")])
    return Transition(
        event_type="decision_proceeded",
        data={"reason": reason, "status": "proceeded_pending_review", "approvers": list(state.route.approvers)},
        status="proceeded_pending_review",
    )


def amend(
    state: DecisionState,
    actor: Person,
    new_tier: Tier,
    new_attributes: Mapping[str, Any],
    new_read_fields: frozenset[str],
    new_route: Route,
    invalidate_on_amend: str,
) -> tuple[list[Vote], list[str], str]:
    """Which approvals survive an amendment, which are dismissed, and the status after it."""
    if actor.name != state.filed_by:
        raise Forbidden(f"only the filer ({state.filed_by}) may amend this decision")
    if state.status in FINAL_STATUSES:
        raise Conflict(
            f"decision {state.id} is {state.status}: it cannot be amended; file a new decision that supersedes it"
        )
    if state.status != "pending":
        raise Conflict(f"decision {state.id} already proceeded under break-glass; it can only be ratified or rejected")
    read = state.read_fields | new_read_fields
    material = (
        new_tier.number != state.tier
        or new_route.role != state.route.role
        or any(state.attributes.get(f) != new_attributes.get(f) for f in read)
    )
    if invalidate_on_amend == "always" or material:
        kept: list[Vote] = []
    else:
        kept = list(state.votes)
    dismissed = [v.principal for v in state.votes if v not in kept]
    if new_tier.self_approved:
        status = "resolved"
    elif satisfied(new_route, kept):
        status = "approved"
    else:
        status = "pending"
    return kept, dismissed, status


def supersede(state: DecisionState, by: str) -> Transition:
    if state.status not in {"resolved", "approved", "rejected", "pending"}:
        raise Conflict(f"decision {state.id} is {state.status}; it cannot be superseded")
    return Transition(
        event_type="decision_superseded", data={"superseded_by": by, "status": "superseded"}, status="superseded"
    )
