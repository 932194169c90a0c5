"""Scaffolding: today's lifecycle functions behind the `decide` signature of the rules API (RULES-API.md).

The replay audit is written against `engine.lifecycle.decide`; until that lands this module
sequences today's pure functions the way the service does. It goes when `decide` lands.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from engine.classify import classify
from engine.errors import Conflict, Forbidden, InvalidInput
from engine.ids import new_decision_id  # noqa: F401  (kept for parity with the service)
from engine.lifecycle import amend, give_verdict, proceed, state_of, status_at_filing, supersede, withdraw
from engine.routing import route_for
from policy.compiled import AttributesInvalid, FieldError, Person, Policy

FILING_ROLES = frozenset({"squad_member", "tech_pm", "director", "admin"})


@dataclass(frozen=True, slots=True)
class Grant:
    id: str
    delegator: str
    delegate: str
    role: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class Authority:
    policy: Policy
    grants: tuple[Grant, ...]
    now: datetime
    candidates: Mapping[str, Policy] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class File:
    title: str
    category: str
    attributes: Mapping[str, Any]
    rationale: str | None
    client: str | None
    links: Sequence[str]
    supersedes: str | None


@dataclass(frozen=True, slots=True)
class Verdict:
    verdict: str
    reason: str | None
    channel: str | None = None


@dataclass(frozen=True, slots=True)
class Withdraw:
    reason: str | None


@dataclass(frozen=True, slots=True)
class Amend:
    title: str | None
    attributes: Mapping[str, Any] | None
    rationale: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class Comment:
    text: str


@dataclass(frozen=True, slots=True)
class Proceed:
    reason: str


@dataclass(frozen=True, slots=True)
class Delegate:
    delegation_id: str
    delegate: str
    role: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class RevokeDelegation:
    delegation_id: str


@dataclass(frozen=True, slots=True)
class PlannedEvent:
    type: str
    decision_id: str | None
    data: dict[str, Any]
    actor: str


@dataclass(frozen=True, slots=True)
class Outcome:
    events: list[PlannedEvent]


def _matched(policy: Policy, category: str, result: Any) -> list[dict[str, Any]]:
    spec = policy.categories.get(category)
    reads = {r.id: sorted(r.reads) for r in spec.rules} if spec is not None else {}
    return [
        {"id": r.id, "tier": r.tier, "description": r.description, "reads": reads.get(r.id, [])}
        for r in result.matched_rules
    ]


def _classified(policy: Policy, category: str, attributes: Mapping[str, Any], filer: str) -> tuple[Any, Any]:
    try:
        result = classify(policy, category, attributes)
    except AttributesInvalid as exc:
        raise InvalidInput(exc.errors) from exc
    return result, route_for(policy, result.tier, filer)


def _delegators(authority: Authority, actor: Person) -> list[tuple[Person, str]]:
    out = []
    for g in authority.grants:
        if g.delegate != actor.name or not g.starts_at <= authority.now < g.ends_at:
            continue
        person = authority.policy.people.get(g.delegator)
        if person is not None and g.role in person.roles:
            out.append((person, g.role))
    return out


def decide(
    command: Any,
    actor: Person,
    authority: Authority,
    state: dict[str, Any] | None = None,
    related: dict[str, Any] | None = None,
    grant: Grant | None = None,
    decision_id: str | None = None,
) -> Outcome:
    policy = authority.policy
    if isinstance(command, File):
        if not actor.roles & FILING_ROLES:
            raise Forbidden(f"{actor.name} holds only {', '.join(sorted(actor.roles))}, which is read-only")
        result, route = _classified(policy, command.category, command.attributes, actor.name)
        status = status_at_filing(policy.tiers[result.tier])
        events = [
            PlannedEvent(
                "decision_filed",
                decision_id,
                {
                    "title": command.title,
                    "category": command.category,
                    "attributes": result.attributes,
                    "rationale": command.rationale,
                    "client": command.client,
                    "links": list(command.links),
                    "squad": actor.squad,
                    "tier": result.tier,
                    "base_tier": result.base_tier,
                    "known_category": result.known_category,
                    "matched_rules": _matched(policy, command.category, result),
                    "route": msgspec.to_builtins(route),
                    "status": status,
                    "policy_version": result.policy_version,
                    "supersedes": command.supersedes,
                },
                actor.name,
            )
        ]
        if command.supersedes is not None:
            if related is None:
                raise InvalidInput([FieldError("$.supersedes", f"no decision {command.supersedes}")])
            if related["status"] in {"withdrawn", "superseded"}:
                raise InvalidInput([FieldError("$.supersedes", f"decision {related['id']} is {related['status']}")])
            if status == "resolved":
                t = supersede(state_of(related), decision_id or "")
                events.append(PlannedEvent(t.event_type, related["id"], t.data, actor.name))
        return Outcome(events)
    if isinstance(command, Delegate):
        if command.role not in actor.roles:
            raise Forbidden(f"{actor.name} does not hold {command.role} in their own right")
        if command.delegate == actor.name or command.delegate not in policy.people:
            raise InvalidInput([FieldError("$.delegate", "name another person of the policy's directory")])
        if command.ends_at <= command.starts_at:
            raise InvalidInput([FieldError("$.ends_at", "must be after starts_at")])
        if not any(
            t.delegation and t.approvers and command.role in t.approvers.all_roles for t in policy.tiers.values()
        ):
            raise Forbidden(f"the policy allows no delegation of the {command.role} sign-off")
        from engine.log.canonical import format_at

        data: dict[str, Any] = {
            "delegation_id": command.delegation_id,
            "delegate": command.delegate,
            "role": command.role,
            "starts_at": format_at(command.starts_at),
            "ends_at": format_at(command.ends_at),
        }
        return Outcome([PlannedEvent("delegation_granted", None, data, actor.name)])
    if isinstance(command, RevokeDelegation):
        if grant is None:
            raise Conflict(f"no delegation {command.delegation_id} is in force")
        if grant.delegator != actor.name:
            raise Forbidden("only the person who delegated may revoke the delegation")
        return Outcome([PlannedEvent("delegation_revoked", None, {"delegation_id": grant.id}, actor.name)])
    assert state is not None
    s = state_of(state)
    if isinstance(command, Verdict):
        t = give_verdict(s, policy.tiers[s.tier], actor, command.verdict, command.reason, _delegators(authority, actor))  # type: ignore[arg-type]
        events = [PlannedEvent(t.event_type, s.id, t.data, actor.name)]
        live = related is not None and related["status"] not in {"withdrawn", "superseded"}
        if t.status == "approved" and state.get("supersedes") and related is not None and live:
            u = supersede(state_of(related), s.id)
            events.append(PlannedEvent(u.event_type, related["id"], u.data, "system"))
        return Outcome(events)
    if isinstance(command, Withdraw):
        t = withdraw(s, actor, command.reason)
    elif isinstance(command, Proceed):
        t = proceed(s, policy.tiers[s.tier], actor, command.reason)
    elif isinstance(command, Comment):
        return Outcome([PlannedEvent("comment_added", s.id, {"text": command.text}, actor.name)])
    elif isinstance(command, Amend):
        if actor.name != s.filed_by:
            raise Forbidden(f"only the filer ({s.filed_by}) may amend this decision")
        title = command.title if command.title is not None else state["title"]
        attributes = command.attributes if command.attributes is not None else state["attributes"]
        rationale = command.rationale if command.rationale is not None else state["rationale"]
        result, route = _classified(policy, state["category"], attributes, actor.name)
        matched = _matched(policy, state["category"], result)
        new_tier = policy.tiers[result.tier]
        reads = frozenset(f for m in matched for f in m["reads"])
        _kept, dismissed, status = amend(
            s, actor, new_tier, result.attributes, reads, route, new_tier.invalidate_on_amend
        )
        amended: dict[str, Any] = {
            "title": title,
            "attributes": result.attributes,
            "rationale": rationale,
            "tier": result.tier,
            "base_tier": result.base_tier,
            "known_category": result.known_category,
            "matched_rules": matched,
            "route": msgspec.to_builtins(route),
            "policy_version": result.policy_version,
            "dismissed": dismissed,
            "reason": command.reason,
            "status": status,
        }
        return Outcome([PlannedEvent("decision_amended", s.id, amended, actor.name)])
    else:
        raise InvalidInput([FieldError("$", f"unknown command {type(command).__name__}")])
    return Outcome([PlannedEvent(t.event_type, s.id, t.data, actor.name)])
