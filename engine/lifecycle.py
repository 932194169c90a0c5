"""The decision lifecycle (pure): filed -> resolved | pending -> approved | rejected | withdrawn.

Every function takes the current state and returns the event to append (type and
data) or raises Forbidden/Conflict with a sentence saying why. Nothing here reads
a clock or a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import Conflict, Forbidden, InvalidInput
from engine.routing import eligibility_refusal
from engine.types import FINAL_STATUSES, Route, Verdict
from policy.compiled import FieldError, Person, Tier


@dataclass(frozen=True, slots=True)
class DecisionState:
    id: str
    status: str
    filed_by: str
    tier: int
    route: Route
    #: Names of the people who have approved so far, in order.
    approvals: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Transition:
    event_type: str
    data: dict[str, Any]
    status: str


def status_at_filing(tier: Tier) -> str:
    return "resolved" if tier.self_approved else "pending"


def _refuse_if_final(state: DecisionState, action: str) -> None:
    if state.status in FINAL_STATUSES:
        raise Conflict(f"decision {state.id} is already {state.status}; it cannot be {action}")


def give_verdict(state: DecisionState, tier: Tier, actor: Person, verdict: Verdict, reason: str | None) -> Transition:
    refusal = eligibility_refusal(tier, state.route, state.filed_by, actor)
    if refusal is not None and state.route.role is None:
        raise Conflict(refusal)
    if refusal is not None:
        raise Forbidden(refusal)
    _refuse_if_final(state, "approved or rejected")
    if actor.name in state.approvals:
        raise Conflict(f"{actor.name} has already approved this decision; a quorum needs distinct people")
    assert state.route.role is not None
    if verdict == "reject":
        if not reason or not reason.strip():
            raise InvalidInput([FieldError("$.reason", "a rejection needs a reason the filer can act on")])
        approvals = list(state.approvals)
        status = "rejected"
    else:
        approvals = [*state.approvals, actor.name]
        status = "approved" if len(approvals) >= state.route.count else "pending"
    return Transition(
        event_type="approval_recorded",
        data={
            "verdict": verdict,
            "reason": reason,
            "role": state.route.role,
            "approvals": approvals,
            "status": status,
        },
        status=status,
    )


def withdraw(state: DecisionState, actor: Person, reason: str | None) -> Transition:
    if actor.name != state.filed_by:
        raise Forbidden(f"only the filer ({state.filed_by}) may withdraw this decision")
    _refuse_if_final(state, "withdrawn")
    return Transition(
        event_type="decision_withdrawn", data={"reason": reason, "status": "withdrawn"}, status="withdrawn"
    )
