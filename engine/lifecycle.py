"""The decision lifecycle (pure): every command is decided here, and only here.

    filed -> resolved                                   (tier the squad resolves)
    filed -> pending -> approved | rejected | withdrawn
    pending -> proceeded_pending_review -> approved | rejected   (break-glass, ratified after the fact)
    resolved | approved -> superseded                   (a newer decision replaced it)

`decide(command, actor, authority, ...)` is one function of (decision state, actor, policy
version in force, delegations in force, time) that returns the events to append or raises
Forbidden / Conflict / InvalidInput with a sentence saying why. The service loads state, calls
it and appends what it returns in one transaction; the replay audit (engine.log.audit) calls it
again for every logged command and compares. Nothing here reads a clock or a database.
docs/rules.md is the table of these rules; a test keeps it in step with `RULES` below.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from engine.classify import classify
from engine.content import CONTENT_KEYS, content_hash
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.log.canonical import format_at
from engine.quorum import Vote, acting_role, adds_to_quorum, missing, satisfied
from engine.reminders import escalated_to
from engine.routing import FILER_REFUSAL, eligibility_refusal, route_for
from engine.types import FINAL_STATUSES, OPEN_STATUSES, Route, Verdict
from policy import PolicyLoadError, load_policy_text
from policy.compiled import POLICY_CATEGORY, AttributesInvalid, FieldError, Person, Policy, Tier

#: Roles that may file, amend their own, comment and break the glass (auditors only read).
FILING_ROLES = frozenset({"squad_member", "tech_pm", "director", "admin"})
#: Only decisions in force can be replaced; a pending one is withdrawn or amended instead.
SUPERSEDABLE = frozenset({"resolved", "approved"})
#: The actor of consequences (a supersession or an activation caused by another command).
SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class DecisionState:
    id: str
    status: str
    filed_by: str
    tier: int
    route: Route
    #: The approvals that count: not dismissed, bound to the current content, in order.
    votes: tuple[Vote, ...] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)
    #: Attribute names read by the rules that matched at the last classification.
    read_fields: frozenset[str] = frozenset()
    category: str = ""
    squad: str | None = None
    #: title, category, attributes, rationale, client, links, supersedes (see CONTENT_KEYS).
    content: Mapping[str, Any] = field(default_factory=dict)
    content_hash: str = ""
    supersedes: str | None = None
    known_category: bool = True

    @property
    def approvals(self) -> tuple[str, ...]:
        return tuple(v.principal for v in self.votes)


@dataclass(frozen=True, slots=True)
class Transition:
    event_type: str
    data: dict[str, Any]
    status: str


def route_of(row: Mapping[str, Any]) -> Route:
    """A decision row's route (stored as plain JSON)."""
    return msgspec.convert(row["route"], Route)


def state_of(row: Mapping[str, Any]) -> DecisionState:
    """The lifecycle's view of a decision row (the read model's `fold` output)."""
    current = content_hash(row)
    votes = []
    for a in row["approvals"]:
        bound = a.get("content_hash") or current
        if a["verdict"] == "approve" and not a.get("dismissed") and bound == current:
            votes.append(Vote(a.get("on_behalf_of") or a["approver"], a["role"], a.get("squad"), a["approver"], bound))
    return DecisionState(
        id=row["id"],
        status=row["status"],
        filed_by=row["filed_by"],
        tier=row["tier"],
        route=route_of(row),
        votes=tuple(votes),
        attributes=row["attributes"],
        read_fields=frozenset(f for m in row["matched_rules"] for f in m.get("reads", [])),
        category=row.get("category", ""),
        squad=row.get("squad"),
        content={k: row.get(k) for k in CONTENT_KEYS if k != "tier"},
        content_hash=current,
        supersedes=row.get("supersedes"),
        known_category=row.get("known_category", True),
    )


# -- what is in force when a command is decided -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Grant:
    """A delegation as the log granted it: `delegate` may sign off as `role` for `delegator`."""

    id: str
    delegator: str
    delegate: str
    role: str
    starts_at: datetime
    ends_at: datetime
    revoked: bool = False

    def in_force(self, now: datetime) -> bool:
        return not self.revoked and self.starts_at <= now < self.ends_at


@dataclass(frozen=True, slots=True)
class Authority:
    """Everything in force at the instant a command is decided."""

    policy: Policy
    now: datetime
    grants: tuple[Grant, ...] = ()
    #: Candidate policy texts by version: a `policy` decision may only name a stored one.
    candidates: Mapping[str, str] = field(default_factory=dict)

    def delegators(self, actor: Person) -> list[tuple[Person, str]]:
        """(delegator, role) pairs whose sign-off `actor` holds right now."""
        out = []
        for grant in self.grants:
            if grant.delegate != actor.name or not grant.in_force(self.now):
                continue
            delegator = self.policy.people.get(grant.delegator)
            # The delegator must still hold the role: a delegation never outlives its source.
            if delegator is not None and grant.role in delegator.roles:
                out.append((delegator, grant.role))
        return out


# -- commands ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class File:
    title: str
    category: str
    attributes: Mapping[str, Any]
    rationale: str | None = None
    client: str | None = None
    links: tuple[str, ...] = ()
    supersedes: str | None = None


@dataclass(frozen=True, slots=True)
class GiveVerdict:
    verdict: Verdict
    reason: str | None = None
    #: Where the verdict was given (api, web, cli, slack): recorded, never a source of authority.
    channel: str | None = None


@dataclass(frozen=True, slots=True)
class Withdraw:
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Amend:
    title: str | None = None
    attributes: Mapping[str, Any] | None = None
    rationale: str | None = None
    reason: str | None = None


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
class Activate:
    """Activate a stored policy version that an approved `policy` decision names."""

    version: str
    text: str


@dataclass(frozen=True, slots=True)
class RecordBaseline:
    """Vouch in the log for an imported pre-adoption baseline (its rows live apart from the log)."""

    digest: str
    rows: int
    first_day: str
    last_day: str
    source: str


Command = (
    File | GiveVerdict | Withdraw | Amend | Comment | Proceed | Delegate | RevokeDelegation | Activate | RecordBaseline
)


@dataclass(frozen=True, slots=True)
class PlannedEvent:
    type: str
    decision_id: str | None
    data: dict[str, Any]
    actor: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """The events a command appends, in order: its own first, then its consequences."""

    events: tuple[PlannedEvent, ...]

    @property
    def status(self) -> str | None:
        return self.events[0].data.get("status") if self.events else None


def decide(
    command: Command,
    actor: Person,
    authority: Authority,
    state: DecisionState | None = None,
    related: DecisionState | None = None,
    grant: Grant | None = None,
    decision_id: str | None = None,
) -> Outcome:
    """The one rule book. `state`: the decision commanded; `related`: the decision a filing (or the
    decision approved) supersedes, or for Activate the approving decision; `grant`: the delegation a
    RevokeDelegation names; `decision_id`: the id minted for a new filing."""
    if isinstance(command, File):
        if decision_id is None:
            raise ValueError("a filing needs the id minted for it")
        return _file(command, actor, authority, related, decision_id)
    if isinstance(command, Delegate):
        return _delegate(command, actor, authority)
    if isinstance(command, RevokeDelegation):
        return _revoke(command, actor, grant)
    if isinstance(command, Activate):
        return _activate(command, actor, authority, related)
    if isinstance(command, RecordBaseline):
        return _record_baseline(command, actor)
    if state is None:
        raise NotFound("no such decision")
    if isinstance(command, GiveVerdict):
        return _verdict(command, actor, authority, state, related)
    if isinstance(command, Amend):
        return _amend(command, actor, authority, state, related)
    if isinstance(command, Withdraw):
        t = withdraw(state, actor, command.reason)
    elif isinstance(command, Proceed):
        t = proceed(state, _tier(authority.policy, state.tier), actor, command.reason)
    else:
        t = comment(state, actor, command.text)
    return Outcome((PlannedEvent(t.event_type, state.id, t.data, actor.name),))


# -- filing -----------------------------------------------------------------------------------------------


def status_at_filing(tier: Tier) -> str:
    return "resolved" if tier.self_approved else "pending"


def classified(policy: Policy, category: str, attributes: Mapping[str, Any]) -> Any:
    """Classify, with every invalid attribute as an InvalidInput naming its field."""
    try:
        result = classify(policy, category, attributes)
    except AttributesInvalid as exc:
        raise InvalidInput(exc.errors) from exc
    if not result.known_category:
        # Unknown categories pass through unvalidated: still, only what the log can hold.
        problems = list(_unloggable(result.attributes, "$.attributes"))
        if problems:
            raise InvalidInput(problems)
    return result


def matched_rules(policy: Policy, category: str, result: Any) -> list[dict[str, Any]]:
    reads = policy.rule_reads(category)  # every rule of the category: a matched rule is always in it
    return [
        {"id": r.id, "tier": r.tier, "description": r.description, "reads": list(reads[r.id])}
        for r in result.matched_rules
    ]


def candidate_text(category: str, attributes: Mapping[str, Any], authority: Authority) -> str | None:
    """The text of the candidate policy a `policy` decision names (None for any other decision), or
    InvalidInput when no candidate has that version. The filing and each amendment that changes the
    candidate log this text, so the log alone says what every approval of it approved. None also
    when the text is unknown to `authority` (the replay of a log written before texts were logged)."""
    # A `policy` decision of a policy without that category is of an unknown category: nothing to check.
    if category != POLICY_CATEGORY or POLICY_CATEGORY not in authority.policy.categories:
        return None
    version = attributes.get("candidate_version")
    if not isinstance(version, str) or version not in authority.candidates:
        raise InvalidInput(
            [
                FieldError(
                    "$.attributes.candidate_version",
                    "no candidate policy has this version: propose it first "
                    "(`decisions policy propose FILE` or POST /v1/policy/candidates)",
                )
            ]
        )
    text = authority.candidates.get(version)
    problems = candidate_problems(text, version) if text is not None else None
    if problems is not None:
        raise InvalidInput(
            [
                FieldError(
                    "$.attributes.candidate_version",
                    f"candidate policy {version[:12]} does not load, so it could never be activated: {problems}",
                )
            ]
        )
    return text


@functools.lru_cache(maxsize=16)
def candidate_problems(text: str, version: str) -> str | None:
    """Why a stored candidate policy could never run, or None: it must load under this service's rules
    (policy.compiler). Proposing refuses such a text, but a version stored before a rule was added
    (or written to the database by other means) is still named by its hash, so the rules ask again
    before a filing names it and before an activation runs it. Loading is pure; remembered by text."""
    try:
        load_policy_text(text, f"candidate:{version[:12]}")
    except PolicyLoadError as exc:
        return "; ".join(str(issue) for issue in exc.issues)
    return None


def may_supersede_refusal(old: DecisionState, actor: Person, authority: Authority) -> str | None:
    """Why `actor` may not replace `old`, or None: its filer, its squad for a squad-resolved decision,
    or someone who may approve its route in their own right."""
    if old.status not in SUPERSEDABLE:
        return f"decision {old.id} is {old.status}; only a resolved or approved decision can be superseded"
    if actor.name == old.filed_by:
        return None
    if old.route.role is None:
        if old.squad is not None and actor.squad == old.squad:
            return None
        squad = old.squad or "(none)"
        return f"decision {old.id} was resolved by squad {squad}; only its filer or that squad may supersede it"
    tier = authority.policy.tiers.get(old.tier)
    if tier is not None and eligibility_refusal(tier, old.route, old.filed_by, actor) is None:
        return None
    return f"only {old.filed_by} (its filer) or someone who may approve it may supersede decision {old.id}"


def precheck_filing(command: File, actor: Person, policy: Policy) -> Any:
    """What a filing needs whatever the state: a filing role and valid attributes (the classification)."""
    if not actor.roles & FILING_ROLES:
        raise Forbidden(f"{actor.name} holds only {', '.join(sorted(actor.roles)) or 'no role'}, which is read-only")
    return classified(policy, command.category, command.attributes)


def _file(command: File, actor: Person, authority: Authority, old: DecisionState | None, decision_id: str) -> Outcome:
    policy = authority.policy
    result = precheck_filing(command, actor, policy)
    candidate = candidate_text(command.category, result.attributes, authority)
    matched = matched_rules(policy, command.category, result)
    tier = result.tier
    if command.supersedes is not None:
        if old is None or old.id != command.supersedes:
            raise InvalidInput([FieldError("$.supersedes", f"no decision {command.supersedes}")])
        refusal = may_supersede_refusal(old, actor, authority)
        if refusal is not None:
            raise (
                InvalidInput([FieldError("$.supersedes", refusal)])
                if old.status not in SUPERSEDABLE
                else Forbidden(refusal)
            )
        if old.tier > tier:
            # Replacing a decision needs at least the authority that made it.
            tier = old.tier
            matched.append(
                {
                    "id": "supersedes",
                    "tier": old.tier,
                    "description": f"replaces tier-{old.tier} decision {old.id}",
                    "reads": [],
                }
            )
    route = route_for(policy, tier, actor.name)
    status = status_at_filing(_tier(policy, tier))
    data = {
        "title": command.title,
        "category": command.category,
        "attributes": result.attributes,
        "rationale": command.rationale,
        "client": command.client,
        "links": list(command.links),
        "squad": actor.squad,
        "tier": tier,
        "base_tier": result.base_tier,
        "known_category": result.known_category,
        "matched_rules": matched,
        "route": msgspec.to_builtins(route),
        "status": status,
        "policy_version": result.policy_version,
        "supersedes": command.supersedes,
    }
    if candidate is not None:
        data["candidate_text"] = candidate
    events = [PlannedEvent("decision_filed", decision_id, data, actor.name)]
    if status == "resolved":
        if old is not None:
            events.append(_superseded(old, decision_id))
        events.extend(
            _activation(decision_id, command.category, result.known_category, result.attributes, authority, tier)
        )
    return Outcome(tuple(events))


def _superseded(old: DecisionState, by: str) -> PlannedEvent:
    t = supersede(old, by)
    return PlannedEvent(t.event_type, old.id, t.data, SYSTEM)


def supersede(state: DecisionState, by: str) -> Transition:
    if state.status not in SUPERSEDABLE:
        raise Conflict(f"decision {state.id} is {state.status}; it cannot be superseded")
    return Transition(
        event_type="decision_superseded", data={"superseded_by": by, "status": "superseded"}, status="superseded"
    )


# -- verdicts ---------------------------------------------------------------------------------------------


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
    if actor.name == state.filed_by:
        # Never, not even on someone else's behalf: a filer cannot satisfy their own quorum. Whatever the
        # route's exclude_filer says: the loader refuses `false`, but a route logged under an older policy,
        # or routed by a Policy built past the loader, may still carry it.
        raise Forbidden(FILER_REFUSAL)
    candidates: list[tuple[Person, str | None, Sequence[str]]] = []
    if own_refusal is None:
        candidates.append((actor, None, sorted(actor.roles)))
    if tier.delegation:
        for delegator, role in delegators:
            if delegator.name == state.filed_by:
                continue  # a delegation from the filer never counts
            candidates.append((delegator, delegator.name, [role]))
    if not candidates:
        if delegators and not tier.delegation:
            raise Forbidden(f"tier {tier.number} ({tier.name}) does not allow delegated sign-off")
        # No candidate: not in their own right (the actor would be one), and no delegation counts.
        assert own_refusal is not None
        raise Forbidden(own_refusal)
    _refuse_if_closed(state, "approved or rejected")
    if state.status not in OPEN_STATUSES:
        raise Conflict(f"decision {state.id} is {state.status}; nothing to approve")
    counted = {v.principal for v in state.votes} | {v.human for v in state.votes}
    if actor.name in counted:
        # One human counts once in any quorum, whatever delegations they hold.
        raise Conflict(f"{actor.name} has already approved this decision; a quorum needs distinct people")
    chosen: tuple[Vote, str | None] | None = None
    for principal, on_behalf_of, roles in candidates:
        acting = acting_role(route, roles, state.votes)
        if acting is None or principal.name in counted:
            continue
        vote = Vote(principal.name, acting, principal.squad, actor.name, state.content_hash)
        if verdict == "approve" and not adds_to_quorum(route, state.votes, vote):
            continue
        chosen = (vote, on_behalf_of)
        break
    if chosen is None:
        raise Conflict(f"your approval would not count: {missing(route, state.votes) or 'the quorum is already met'}")
    vote, on_behalf_of = chosen
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
            "role": vote.role,
            "squad": vote.squad,
            "on_behalf_of": on_behalf_of,
            "approvals": [v.principal for v in votes],
            "missing": missing(route, votes) if status in OPEN_STATUSES else None,
            "status": status,
            "content_hash": state.content_hash,
        },
        status=status,
    )


def _verdict(
    command: GiveVerdict, actor: Person, authority: Authority, state: DecisionState, related: DecisionState | None
) -> Outcome:
    tier = _tier(authority.policy, state.tier)
    t = give_verdict(state, tier, actor, command.verdict, command.reason, authority.delegators(actor))
    if command.channel is not None:
        t.data["channel"] = command.channel
    events = [PlannedEvent(t.event_type, state.id, t.data, actor.name)]
    if t.status == "approved":
        events.extend(_on_approval(state, authority, related))
    return Outcome(tuple(events))


def _on_approval(state: DecisionState, authority: Authority, related: DecisionState | None) -> list[PlannedEvent]:
    """What completing a decision's quorum does in the same transaction, or why it cannot complete."""
    events = []
    if state.supersedes is not None:
        if related is None or related.id != state.supersedes or related.status not in SUPERSEDABLE:
            status = related.status if related is not None else "gone"
            raise Conflict(
                f"decision {state.id} replaces {state.supersedes}, which is now {status}; "
                "it cannot be approved as filed: withdraw it and file again"
            )
        events.append(_superseded(related, state.id))
    events.extend(_activation(state.id, state.category, state.known_category, state.attributes, authority))
    return events


def _activation(
    decision_id: str,
    category: str,
    known_category: bool,
    attributes: Mapping[str, Any],
    authority: Authority,
    squad_tier: int | None = None,
) -> list[PlannedEvent]:
    """The activation a `policy` decision's closing causes in its own transaction: only ever the approval
    that completes its quorum. `squad_tier`: the tier the squad resolves that closes it instead (a filing or
    an amendment), which is refused: the squad never activates a policy. The policy loader refuses a policy
    under which that could happen (policy.compiler), so this holds for a policy built any other way too."""
    if category != POLICY_CATEGORY or not known_category or POLICY_CATEGORY not in authority.policy.categories:
        return []
    if squad_tier is not None:
        tier = _tier(authority.policy, squad_tier)
        raise Forbidden(
            f"a `policy` decision activates the policy it names, so it needs sign-off; tier {tier.number} "
            f"({tier.name}) is resolved by the squad"
        )
    version = attributes.get("candidate_version")
    text = authority.candidates.get(version) if isinstance(version, str) else None
    if text is None:
        raise Conflict(
            f"decision {decision_id} names candidate policy {version!r}, which is not stored; it cannot be approved"
        )
    problems = candidate_problems(text, version)
    if problems is not None:
        raise Conflict(
            f"decision {decision_id} names candidate policy {str(version)[:12]}, which does not load, so it cannot "
            f"be approved: withdraw it ({problems})"
        )
    if version == authority.policy.version:
        return []
    data = {
        "version": version,
        "previous": authority.policy.version,
        "source": f"decision {decision_id}",
        "decision_id": decision_id,
        "text": text,
    }
    return [PlannedEvent("policy_activated", None, data, SYSTEM)]


# -- what could wait on an actor (the inbox's filter, derived from the rules above) ----------------------------


@dataclass(frozen=True, slots=True)
class InboxTier:
    """How the open decisions of one tier can reach `actor`'s inbox, in terms a store can filter on."""

    tier: int
    #: The actor may sign this tier's route, in their own right or under a delegation in force (never a
    #: decision they filed themselves: no route takes its filer's sign-off).
    sign: bool
    #: Overdue decisions escalate to the actor: those filed before this instant (never the actor's own).
    escalated_if_filed_before: datetime | None = None


def inbox_scope(
    policy: Policy, actor: Person, delegators: Sequence[tuple[Person, str]], now: datetime
) -> list[InboxTier]:
    """Which tiers' open decisions may be in `actor`'s inbox: a superset the store filters on (tier,
    filer, filing time), built from the same pieces `give_verdict` uses (the route `route_for` gives
    the tier, `eligibility_refusal` for the actor's own right, the tier's delegation switch and the
    delegators' roles) and from `escalated_to`. Each decision in it is still decided one by one by
    `give_verdict` (and `escalation_for`): this only keeps the rest out of the query. `actor` is the
    Person the edge authenticated, with its claim-given roles."""
    scope = []
    for number, tier in sorted(policy.tiers.items()):
        route = route_for(policy, number, "")
        sign = False
        if route.role is not None:
            own = eligibility_refusal(tier, route, "", actor) is None
            roles = set(route.roles or [route.role])
            delegated = tier.delegation and any(role in roles for _, role in delegators)
            sign = own or delegated
        escalated = None
        if tier.sla is not None and escalated_to(tier, actor):
            escalated = now - tier.sla
        if sign or escalated is not None:
            scope.append(InboxTier(number, sign, escalated))
    return scope


def may_sign(
    state: DecisionState, tier: Tier, actor: Person, delegators: Sequence[tuple[Person, str]]
) -> str | bool | None:
    """Whether the rules would take `actor`'s approval of this decision now: None in their own right,
    a name when on that person's behalf, False when not at all."""
    try:
        transition = give_verdict(state, tier, actor, "approve", None, delegators)
    except (Forbidden, Conflict, InvalidInput):
        return False
    on_behalf_of: str | None = transition.data["on_behalf_of"]
    return on_behalf_of


def offered_steps(
    state: DecisionState,
    tier: Tier | None,
    actor: Person,
    authority: Authority,
    delegators: Sequence[tuple[Person, str]],
) -> frozenset[str]:
    """Which steps on this decision the rules would take from `actor` now, each asked of the rule that
    decides it (what a page offers; every step is decided again when taken): "decide" (approve or
    reject, `may_sign`), "withdraw", "amend", "proceed" (break-glass), "comment", and "supersede" (file a
    decision that replaces this one)."""
    steps = set()
    attempts: dict[str, Any] = {
        "withdraw": lambda: withdraw(state, actor, None),
        "amend": lambda: refuse_amendment(state, actor),
        "comment": lambda: comment(state, actor, "?"),
    }
    if tier is not None:
        attempts["proceed"] = lambda: proceed(state, tier, actor, "?")
        if may_sign(state, tier, actor, delegators) is not False:
            steps.add("decide")
    for name, attempt in attempts.items():
        try:
            attempt()
        except (Forbidden, Conflict, InvalidInput):
            continue
        steps.add(name)
    if actor.roles & FILING_ROLES and may_supersede_refusal(state, actor, authority) is None:
        steps.add("supersede")
    return frozenset(steps)


# -- the filer's own steps ----------------------------------------------------------------------------------


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


def comment(state: DecisionState, actor: Person, text: str) -> Transition:
    if not actor.roles & FILING_ROLES:
        raise Forbidden(f"{actor.name} holds only {', '.join(sorted(actor.roles)) or 'no role'}, which is read-only")
    if not text.strip():
        raise InvalidInput([FieldError("$.text", "a comment needs some text")])
    return Transition(event_type="comment_added", data={"text": text}, status=state.status)


def refuse_amendment(state: DecisionState, actor: Person) -> None:
    """Only the filer amends, and only while the decision is pending (checked before the new content)."""
    if actor.name != state.filed_by:
        raise Forbidden(f"only the filer ({state.filed_by}) may amend this decision")
    if state.status in FINAL_STATUSES:
        raise Conflict(
            f"decision {state.id} is {state.status}: it cannot be amended; file a new decision that supersedes it"
        )
    if state.status != "pending":
        raise Conflict(f"decision {state.id} already proceeded under break-glass; it can only be ratified or rejected")


def amend(
    state: DecisionState,
    actor: Person,
    new_tier: Tier,
    new_content: Mapping[str, Any],
    new_route: Route,
    invalidate_on_amend: str,
    immaterial_fields: frozenset[str] = frozenset(),
) -> tuple[list[Vote], list[str], str]:
    """Which approvals are carried to the new content, which are dismissed, and the status after it.

    An approval binds to the content it approved: it is carried only when nothing changed but
    attributes the policy declares immaterial (`material: false`) and the tier and route stay.
    """
    refuse_amendment(state, actor)
    old_attributes = state.attributes  # the content's attributes (state_of reads both from the row)
    new_attributes = new_content.get("attributes") or {}
    changed_fields = {
        k for k in set(old_attributes) | set(new_attributes) if old_attributes.get(k) != new_attributes.get(k)
    }
    other_change = any(
        state.content.get(k) != new_content.get(k) for k in CONTENT_KEYS if k not in {"attributes", "tier"}
    )
    immaterial = (
        invalidate_on_amend == "when_material"
        and new_tier.number == state.tier
        and new_route.roles == state.route.roles
        and new_route.role == state.route.role
        and new_route.distinct == state.route.distinct
        and new_route.count == state.route.count
        and not other_change
        and changed_fields <= immaterial_fields
    )
    kept = list(state.votes) if immaterial else []
    dismissed = [v.principal for v in state.votes if v not in kept]
    if new_tier.self_approved:
        status = "resolved"
    elif satisfied(new_route, kept):
        status = "approved"
    else:
        status = "pending"
    return kept, dismissed, status


def _amend(
    command: Amend, actor: Person, authority: Authority, state: DecisionState, related: DecisionState | None
) -> Outcome:
    # Who and when first: a closed decision cannot be amended, whatever the new content says.
    refuse_amendment(state, actor)
    policy = authority.policy
    content = dict(state.content)
    if command.title is not None:
        content["title"] = command.title
    if command.attributes is not None:
        content["attributes"] = dict(command.attributes)
    if command.rationale is not None:
        content["rationale"] = command.rationale
    result = classified(policy, state.category, content.get("attributes") or {})
    candidate = candidate_text(state.category, result.attributes, authority)
    content["attributes"] = result.attributes
    matched = matched_rules(policy, state.category, result)
    tier = result.tier
    if related is not None and related.tier > tier:
        tier = related.tier
        matched.append(
            {
                "id": "supersedes",
                "tier": related.tier,
                "description": f"replaces tier-{related.tier} decision {related.id}",
                "reads": [],
            }
        )
    new_tier = _tier(policy, tier)
    route = route_for(policy, tier, state.filed_by)
    spec = policy.categories.get(state.category)
    immaterial = frozenset(f.name for f in spec.fields.values() if not f.material) if spec is not None else frozenset()
    kept, dismissed, status = amend(state, actor, new_tier, content, route, new_tier.invalidate_on_amend, immaterial)
    new_hash = content_hash({**content, "tier": tier})
    data = {
        "title": content["title"],
        "attributes": result.attributes,
        "rationale": content.get("rationale"),
        "tier": tier,
        "base_tier": result.base_tier,
        "known_category": result.known_category,
        "matched_rules": matched,
        "route": msgspec.to_builtins(route),
        "policy_version": result.policy_version,
        "dismissed": dismissed,
        "carried": [v.principal for v in kept],
        "content_hash": new_hash,
        "reason": command.reason,
        "status": status,
    }
    renamed = result.attributes.get("candidate_version") != state.attributes.get("candidate_version")
    if candidate is not None and renamed:
        # A new candidate: its text, as the filing logged the first one's.
        data["candidate_text"] = candidate
    events = [PlannedEvent("decision_amended", state.id, data, actor.name)]
    # Kept votes meet the same route only if they met it before the amendment, so "not pending" is
    # "resolved" here (a tier the squad resolves); it closes what this decision replaces, as an approval would.
    if status != "pending" and state.supersedes is not None:
        if related is None or related.status not in SUPERSEDABLE:
            raise Conflict(f"decision {state.supersedes}, which this one replaces, can no longer be superseded")
        events.append(_superseded(related, state.id))
    if status != "pending":
        squad = tier if status == "resolved" else None
        events.extend(_activation(state.id, state.category, result.known_category, result.attributes, authority, squad))
    return Outcome(tuple(events))


# -- delegation and activation --------------------------------------------------------------------------------


def delegable_roles(policy: Policy, roles: frozenset[str]) -> list[str]:
    """Which of `roles` a person may delegate (while away): the sign-offs of a tier whose route names
    the role and whose `delegation` switch is on. The delegation form offers these; `_delegate` decides."""
    return sorted(
        r
        for r in roles
        if any(t.delegation and t.approvers and r in t.approvers.all_roles for t in policy.tiers.values())
    )


def _delegate(command: Delegate, actor: Person, authority: Authority) -> Outcome:
    policy = authority.policy
    if command.role not in actor.roles:
        raise Forbidden(f"{actor.name} does not hold {command.role} in their own right; a delegate cannot pass it on")
    if command.delegate == actor.name or command.delegate not in policy.people:
        raise InvalidInput([FieldError("$.delegate", "name another person of the policy's directory")])
    for name, moment in (("starts_at", command.starts_at), ("ends_at", command.ends_at)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise InvalidInput([FieldError(f"$.{name}", "needs a time zone (e.g. 2026-12-24T00:00:00Z)")])
    if command.ends_at <= command.starts_at:
        raise InvalidInput([FieldError("$.ends_at", "must be after starts_at")])
    if command.role not in delegable_roles(policy, frozenset({command.role})):
        raise Forbidden(f"the policy allows no delegation of the {command.role} sign-off")
    data = {
        "delegation_id": command.delegation_id,
        "delegate": command.delegate,
        "role": command.role,
        "starts_at": format_at(command.starts_at),
        "ends_at": format_at(command.ends_at),
    }
    return Outcome((PlannedEvent("delegation_granted", None, data, actor.name),))


def _revoke(command: RevokeDelegation, actor: Person, grant: Grant | None) -> Outcome:
    if grant is None or grant.id != command.delegation_id:
        raise NotFound(f"no delegation {command.delegation_id}")
    if grant.delegator != actor.name:
        raise Forbidden("only the person who delegated may revoke the delegation")
    if grant.revoked:
        return Outcome(())  # already revoked: nothing to log
    return Outcome((PlannedEvent("delegation_revoked", None, {"delegation_id": command.delegation_id}, actor.name),))


def _activate(command: Activate, actor: Person, authority: Authority, approving: DecisionState | None) -> Outcome:
    if not actor.roles & {"admin", SYSTEM}:
        raise Forbidden(f"{actor.name} may not activate a policy version; an admin does, once a decision approves it")
    if (
        approving is None
        or approving.category != POLICY_CATEGORY
        or approving.status != "approved"
        or approving.attributes.get("candidate_version") != command.version
    ):
        raise Forbidden(f"no approved `policy` decision names version {command.version[:12]}")
    if command.version == authority.policy.version:
        return Outcome(())
    problems = candidate_problems(command.text, command.version)
    if problems is not None:
        raise InvalidInput([FieldError("$.text", f"policy {command.version[:12]} does not load: {problems}")])
    data = {
        "version": command.version,
        "previous": authority.policy.version,
        "source": f"decision {approving.id}",
        "decision_id": approving.id,
        "text": command.text,
    }
    return Outcome((PlannedEvent("policy_activated", None, data, actor.name),))


def _record_baseline(command: RecordBaseline, actor: Person) -> Outcome:
    if "admin" not in actor.roles:
        raise Forbidden(f"{actor.name} may not import a baseline; an admin does")
    if command.rows < 1:
        raise InvalidInput([FieldError("$.rows", "a baseline needs at least one row")])
    data = {
        "digest": command.digest,
        "rows": command.rows,
        "first_day": command.first_day,
        "last_day": command.last_day,
        "source": command.source,
    }
    return Outcome((PlannedEvent("baseline_imported", None, data, actor.name),))


def _tier(policy: Policy, number: int) -> Tier:
    tier = policy.tiers.get(number)
    if tier is None:
        raise Conflict(f"the policy in force has no tier {number}")
    return tier


def _unloggable(value: Any, path: str, depth: int = 0) -> Iterator[FieldError]:
    if depth > 8:
        yield FieldError(path, "nested too deeply (at most 8 levels)")
    elif isinstance(value, float) and not math.isfinite(value):
        yield FieldError(path, "must be a finite number")
    elif isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        yield FieldError(path, "integers must fit in 64 bits")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _unloggable(item, f"{path}.{key}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unloggable(item, f"{path}[{index}]", depth + 1)
