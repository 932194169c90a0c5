"""Reminders before a tier's SLA and escalation after it: when each is due (pure), and the sweep.

The policy states, per tier, `remind: [50%, 90%]` (fractions of the SLA) and `escalate_to` (a role
or a person). The sweep (the dispatcher's, or `decisions notify deliver`) logs each one as an event
(`reminder_sent`, `decision_escalated`, actor `system`) at most once per decision and mark, in the
log's own write transaction, so two workers sweeping at once cannot both send it; the outbox
turns the event into messages like any other, and the digests can count them from the log.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from engine.log.appender import NewEvent
from engine.log.canonical import format_at
from engine.store.tables import Decision, Event
from engine.types import OPEN_STATUSES
from policy.compiled import Person, Policy, Tier

REMINDER = "reminder_sent"
ESCALATION = "decision_escalated"
OVERDUE_MARK = "overdue"

_decisions = Decision.__table__  # type: ignore[attr-defined]
_events = Event.__table__  # type: ignore[attr-defined]


def percent(fraction: float) -> str:
    return f"{fraction * 100:g}%"


def awaited(row: Mapping[str, Any]) -> list[str]:
    """The approvers on the route who have not signed (reminders go to them, not to who already did)."""
    signed = {a.get("on_behalf_of") or a["approver"] for a in row["approvals"] if not a.get("dismissed")}
    signed |= {a["approver"] for a in row["approvals"] if not a.get("dismissed")}
    return [name for name in row["route"]["approvers"] if name not in signed]


def escalation_targets(tier: Tier, policy: Policy, filed_by: str) -> list[str]:
    target = tier.escalate_to
    if target is None:
        return []
    if target in policy.people:
        return [target]
    return sorted(n for n, p in policy.people.items() if target in p.roles and n != filed_by)


@dataclass(frozen=True, slots=True)
class Nudge:
    type: str
    mark: str
    data: dict[str, Any]


def due_nudge(row: Mapping[str, Any], tier: Tier, policy: Policy, now: datetime, sent: set[str]) -> Nudge | None:
    """What the sweep owes this open decision now: the latest reminder mark passed and not yet sent,
    or the escalation once it is overdue. One at a time: a sweep that was down for a while does not
    send every missed reminder at once."""
    if tier.sla is None or row["status"] not in OPEN_STATUSES:
        return None
    created: datetime = row["created_at"]
    due = created + tier.sla
    if now > due:
        targets = escalation_targets(tier, policy, row["filed_by"])
        if not targets or OVERDUE_MARK in sent:
            return None
        reason = (
            f"no sign-off by the due time ({format_at(due)}); tier {tier.number} ({tier.name}) "
            f"escalates to {tier.escalate_to}"
        )
        data = {"mark": OVERDUE_MARK, "to": tier.escalate_to, "recipients": targets, "due_at": format_at(due)}
        return Nudge(ESCALATION, OVERDUE_MARK, {**data, "reason": reason})
    passed = [f for f in tier.remind if now >= created + tier.sla * f]
    if not passed or percent(passed[-1]) in sent:
        return None
    recipients = awaited(row)
    if not recipients:
        return None
    mark = percent(passed[-1])
    return Nudge(REMINDER, mark, {"mark": mark, "recipients": recipients, "due_at": format_at(due)})


def escalated_to(tier: Tier, actor: Person) -> bool:
    """Whether the tier escalates its overdue decisions to `actor` (by name or by a role they hold)."""
    return tier.escalate_to is not None and (actor.name == tier.escalate_to or tier.escalate_to in actor.roles)


def escalation_for(tier: Tier, row: Mapping[str, Any], actor: Person, now: datetime) -> str | None:
    """Why an open, overdue decision is in `actor`'s inbox by escalation (None: it is not)."""
    if tier.sla is None or tier.escalate_to is None or row["status"] not in OPEN_STATUSES:
        return None
    due = row["created_at"] + tier.sla
    if now <= due or actor.name == row["filed_by"]:
        return None
    if not escalated_to(tier, actor):
        return None
    return f"overdue since {format_at(due)}: tier {tier.number} ({tier.name}) escalates to {tier.escalate_to}"


def sweep_work(policy_of: Any, now: datetime) -> Any:
    """The write to run under the log's lock: returns how many reminders and escalations it logged."""

    def work(conn: Connection, append: Any) -> int:
        policy: Policy = policy_of()
        query = (
            select(_decisions).where(_decisions.c.status.in_(sorted(OPEN_STATUSES))).order_by(_decisions.c.filed_seq)
        )
        rows = [dict(r) for r in conn.execute(query).mappings()]
        candidates = [r for r in rows if (t := policy.tiers.get(r["tier"])) is not None and t.sla is not None]
        if not candidates:
            return 0
        sent: dict[str, set[str]] = {}
        earlier = conn.execute(
            select(_events.c.decision_id, _events.c.body).where(
                _events.c.type.in_([REMINDER, ESCALATION]),
                _events.c.decision_id.in_([r["id"] for r in candidates]),
            )
        )
        for decision_id, body in earlier:
            sent.setdefault(decision_id, set()).add(json.loads(body)["data"]["mark"])
        events = []
        for row in candidates:
            nudge = due_nudge(row, policy.tiers[row["tier"]], policy, now, sent.get(row["id"], set()))
            if nudge is not None:
                events.append(NewEvent(nudge.type, "system", row["id"], nudge.data))
        if events:
            append(conn, events)
        return len(events)

    return work
