"""An independent judge of a decision log: was every step allowed?

Written from issue 14's rules, not from engine/lifecycle.py, engine/quorum.py or engine/routing.py:
it replays the event bodies in order with its own bookkeeping (who holds which role, which
delegations are in force at each instant, which approvals still count) and returns every step
that broke a rule, as (seq, sentence). The policy supplies only data: the directory, each tier's
approver rule and break-glass settings, and each category's fields.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from policy.compiled import Person, Policy

OPEN = frozenset({"pending", "proceeded_pending_review"})
FILING_ROLES = frozenset({"squad_member", "tech_pm", "director", "admin"})
CONTENT_FIELDS = ("title", "category", "attributes", "rationale", "client", "links", "supersedes", "tier")


def parse_at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def content_hash(content: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of the decision's content (RULES-API: content_hash)."""
    canonical = json.dumps(
        {k: content.get(k) for k in CONTENT_FIELDS}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class Vote:
    human: str
    principal: str
    role: str
    squad: str | None


@dataclass
class Case:
    id: str
    filer: str
    category: str
    tier: int
    status: str
    content: dict[str, Any]
    squad: str | None = None
    votes: list[Vote] = field(default_factory=list)
    supersedes: str | None = None


@dataclass
class Grant:
    id: str
    delegator: str
    delegate: str
    role: str
    starts_at: datetime
    ends_at: datetime
    revoked: bool = False


@dataclass
class Judgement:
    violations: list[tuple[int, str]]
    cases: dict[str, Case]
    grants: dict[str, Grant]
    active_version: str | None

    @property
    def ok(self) -> bool:
        return not self.violations


class Oracle:
    def __init__(self, policy: Policy) -> None:
        #: Candidate policies only change parameters: the directory and the tiers stay those of `policy`.
        self.policy = policy
        self.people: Mapping[str, Person] = policy.people

    # -- the quorum, as issue 14 states it ------------------------------------------------------------

    def rule(self, tier: int) -> Any:
        return self.policy.tiers[tier].approvers

    def key(self, tier: int, vote: Vote) -> str | None:
        distinct = self.rule(tier).distinct
        if distinct == "squad":
            return vote.squad
        if distinct == "role":
            return vote.role
        return vote.principal

    def quorum_met(self, case: Case) -> bool:
        rule = self.rule(case.tier)
        if rule is None:
            return True
        keys = {self.key(case.tier, v) for v in case.votes} - {None}
        humans = {v.human for v in case.votes}
        principals = {v.principal for v in case.votes}
        distinct_people = len(humans) == len(case.votes) == len(principals)
        return distinct_people and len(keys) >= rule.count and case.filer not in humans | principals

    def may_approve_in_own_right(self, person: str, case: Case) -> bool:
        rule = self.rule(case.tier)
        holder = self.people.get(person)
        if rule is None or holder is None:
            return False
        if person == case.filer:  # never, whatever the policy's exclude_filer says
            return False
        return bool(holder.roles & set(rule.all_roles))

    def would_add(self, case: Case, person: str) -> bool:
        """Whether `person`'s own approval, in some role they hold, adds to the quorum now."""
        rule = self.rule(case.tier)
        holder = self.people[person]
        if any(person in (v.human, v.principal) for v in case.votes):
            return False
        keys = {self.key(case.tier, v) for v in case.votes}
        for role in rule.all_roles:
            if role in holder.roles and self.key(case.tier, Vote(person, person, role, holder.squad)) not in keys:
                return True
        return False

    # -- the replay --------------------------------------------------------------------------------

    def judge(self, bodies: Iterable[Mapping[str, Any]]) -> Judgement:
        cases: dict[str, Case] = {}
        grants: dict[str, Grant] = {}
        bad: list[tuple[int, str]] = []
        active: str | None = None
        #: What the last command must be followed by in its own transaction (the consequence events
        #: right after it): (seq of the command, event type, the decision it names, a sentence).
        owed: list[tuple[int, str, str, str]] = []

        for body in bodies:
            seq, kind, actor, data = body["seq"], body["type"], body["actor"], body["data"]
            at = parse_at(body["at"])
            case = cases.get(body["decision_id"] or "")

            def refuse(sentence: str, seq: int = seq) -> None:
                bad.append((seq, sentence))

            if kind == "policy_activated":
                named = data.get("decision_id")
            elif kind == "decision_superseded":
                named = body["decision_id"]
            else:
                named = None
            settled = [o for o in owed if o[1] == kind and o[2] == named]
            if named is None or not settled:
                for o in owed:  # a command event (or an unowed consequence) closes the last transaction
                    bad.append((o[0], o[3]))
                owed = []
            else:
                owed.remove(settled[0])

            if kind == "decision_filed":
                tier = data["tier"]
                filer = self.people.get(actor)
                if filer is None or not filer.roles & FILING_ROLES:
                    refuse(f"{actor} may not file")
                self_approved = self.policy.tiers[tier].self_approved
                if data["status"] != ("resolved" if self_approved else "pending"):
                    refuse(f"a tier-{tier} filing cannot start {data['status']}")
                new = Case(
                    id=body["decision_id"],
                    filer=actor,
                    category=data["category"],
                    tier=tier,
                    status=data["status"],
                    content={**{k: data.get(k) for k in CONTENT_FIELDS}},
                    squad=data.get("squad"),
                    supersedes=data.get("supersedes"),
                )
                cases[new.id] = new
                if new.supersedes is not None:
                    self._check_supersede_filing(new, cases.get(new.supersedes), refuse)
                    if new.status == "resolved":
                        owed.append((seq, "decision_superseded", new.supersedes, f"{new.id} did not supersede"))
                continue

            if kind == "delegation_granted":
                holder = self.people.get(actor)
                if holder is None or data["role"] not in holder.roles:
                    refuse(f"{actor} delegated {data['role']}, which they do not hold in their own right")
                if data["delegate"] == actor or data["delegate"] not in self.people:
                    refuse(f"{actor} delegated to {data['delegate']}")
                starts, ends = parse_at(data["starts_at"]), parse_at(data["ends_at"])
                if ends <= starts:
                    refuse("a delegation that ends before it starts")
                grants[data["delegation_id"]] = Grant(
                    data["delegation_id"], actor, data["delegate"], data["role"], starts, ends
                )
                continue

            if kind == "delegation_revoked":
                grant = grants.get(data["delegation_id"])
                if grant is None or grant.delegator != actor:
                    refuse(f"{actor} revoked delegation {data['delegation_id']}, which is not theirs")
                elif grant.revoked:
                    refuse(f"delegation {grant.id} revoked twice")
                else:
                    grant.revoked = True
                continue

            if kind == "policy_activated":
                if data.get("bootstrap"):
                    if active is not None:
                        refuse("a second bootstrap activation")
                else:
                    decision = cases.get(data.get("decision_id") or "")
                    if decision is None or decision.category != "policy" or decision.status != "approved":
                        refuse(f"{data['version'][:12]} activated without an approved policy decision")
                    elif decision.content["attributes"].get("candidate_version") != data["version"]:
                        refuse(f"{data['version'][:12]} activated by a decision approving another candidate")
                    if named is None or not settled:
                        refuse("an activation that is not part of the approving transaction")
                active = data["version"]
                continue

            if case is None:
                refuse(f"{kind} names an unknown decision")
                continue

            if kind == "approval_recorded":
                self._check_verdict(case, actor, data, at, grants, refuse)
                self._owe(case, seq, active, owed)
            elif kind == "decision_withdrawn":
                if actor != case.filer:
                    refuse(f"{actor} withdrew {case.filer}'s decision")
                if case.status != "pending":
                    refuse(f"withdrew a decision that was {case.status}")
                self._claim(case, data, "withdrawn", refuse)
            elif kind == "decision_proceeded":
                tier = self.policy.tiers[case.tier]
                if actor != case.filer:
                    refuse(f"{actor} broke the glass on {case.filer}'s decision")
                if case.status != "pending":
                    refuse(f"broke the glass on a decision that was {case.status}")
                if not tier.break_glass:
                    refuse(f"break-glass on tier {case.tier}, which does not allow it")
                if not self.people[actor].roles & tier.break_glass_roles:
                    refuse(f"{actor} holds none of the break-glass roles")
                self._claim(case, data, "proceeded_pending_review", refuse)
            elif kind == "decision_amended":
                self._check_amendment(case, actor, data, refuse)
                self._owe(case, seq, active, owed)
            elif kind == "decision_superseded":
                newer = cases.get(data["superseded_by"])
                if case.status not in {"resolved", "approved"}:
                    refuse(f"superseded a decision that was {case.status}")
                if newer is None or newer.supersedes != case.id or newer.status not in {"resolved", "approved"}:
                    refuse(f"superseded by {data['superseded_by']}, which is not a settled successor")
                elif not self._may_supersede(newer.filer, case):
                    refuse(f"{newer.filer} superseded {case.filer}'s decision without authority over it")
                elif newer.tier < case.tier:
                    refuse(f"a tier-{newer.tier} decision cancelled a tier-{case.tier} one")
                if not settled:
                    refuse(f"{case.id} superseded outside the transaction that settled {data['superseded_by']}")
                self._claim(case, data, "superseded", refuse)
            elif kind == "comment_added":
                if not self.people[actor].roles & FILING_ROLES:
                    refuse(f"{actor} may only read, not comment")
            else:
                refuse(f"unknown event type {kind}")

        bad.extend((o[0], o[3]) for o in owed)
        return Judgement(bad, cases, grants, active)

    # -- the steps ----------------------------------------------------------------------------------

    def _owe(self, case: Case, seq: int, active: str | None, owed: list[tuple[int, str, str, str]]) -> None:
        """Settling a decision supersedes its target and activates its candidate, in its own transaction."""
        if case.status not in {"approved", "resolved"}:
            return
        if case.supersedes is not None:
            owed.append(
                (seq, "decision_superseded", case.supersedes, f"{case.id} settled but {case.supersedes} stands")
            )
        if case.category == "policy" and case.status == "approved":
            candidate = case.content["attributes"].get("candidate_version")
            if candidate != active:
                owed.append((seq, "policy_activated", case.id, f"{case.id} approved but {candidate} not activated"))

    def _may_supersede(self, person: str, old: Case) -> bool:
        """Its filer; for a decision the squad resolved, that squad; else who may approve it in their own right."""
        if person == old.filer:
            return True
        if self.rule(old.tier) is None:
            return old.squad is not None and self.people[person].squad == old.squad
        return self.may_approve_in_own_right(person, old)

    def _check_supersede_filing(self, new: Case, old: Case | None, refuse: Any) -> None:
        if old is None:
            refuse(f"supersedes an unknown decision {new.supersedes}")
            return
        if old.status not in {"resolved", "approved"}:
            refuse(f"filed to supersede {old.id}, which is {old.status}")
        if not self._may_supersede(new.filer, old):
            refuse(f"{new.filer} filed to supersede {old.filer}'s decision without authority over it")
        if new.tier < old.tier:
            refuse(f"a tier-{new.tier} filing supersedes a tier-{old.tier} decision")

    def _claim(self, case: Case, data: Mapping[str, Any], expected: str, refuse: Any) -> None:
        if data["status"] != expected:
            refuse(f"{case.id}: status {data['status']}, expected {expected}")
        case.status = data["status"]

    def _check_verdict(
        self, case: Case, actor: str, data: Mapping[str, Any], at: datetime, grants: Mapping[str, Grant], refuse: Any
    ) -> None:
        rule = self.rule(case.tier)
        if rule is None:
            refuse(f"a verdict on a tier-{case.tier} decision, which has no approver")
            case.status = data["status"]
            return
        if case.status not in OPEN:
            refuse(f"a verdict on a decision that was {case.status}")
        principal = data.get("on_behalf_of") or actor
        role = data["role"]
        if case.filer in (actor, principal):  # never, whatever the policy's exclude_filer says
            refuse(f"{case.filer} counted towards the quorum of their own decision")
        if role not in rule.all_roles:
            refuse(f"signed as {role}, which this tier does not take")
        if principal == actor:
            holder = self.people.get(actor)
            if holder is None or role not in holder.roles:
                refuse(f"{actor} does not hold {role}")
        else:
            delegator = self.people.get(principal)
            in_force = [
                g
                for g in grants.values()
                if g.delegator == principal
                and g.delegate == actor
                and g.role == role
                and not g.revoked
                and g.starts_at <= at < g.ends_at
            ]
            if not in_force:
                refuse(f"{actor} acted for {principal} as {role} without a delegation in force")
            if delegator is None or role not in delegator.roles:
                refuse(f"{principal} no longer holds {role}, which {actor} used")
            if not self.policy.tiers[case.tier].delegation:
                refuse(f"tier {case.tier} does not allow delegated sign-off")
        if "content_hash" in data and data["content_hash"] != content_hash(case.content):
            refuse(f"{actor}'s approval binds to other content than the decision's")
        if data["verdict"] == "reject":
            if not (data.get("reason") or "").strip():
                refuse("a rejection without a reason")
            self._claim(case, data, "rejected", refuse)
            return
        vote = Vote(actor, principal, role, data.get("squad"))
        if any(actor in (v.human, v.principal) or principal in (v.human, v.principal) for v in case.votes):
            refuse(f"{actor} (for {principal}) counted twice in one quorum")
        elif self.key(case.tier, vote) in {self.key(case.tier, v) for v in case.votes}:
            refuse(f"{actor}'s approval adds nothing distinct ({rule.distinct}) to the quorum")
        case.votes.append(vote)
        met = self.quorum_met(case)
        if data["status"] == "approved" and not met:
            refuse(f"{case.id} approved without a quorum of distinct eligible people")
        elif data["status"] != "approved" and met:
            refuse(f"{case.id} has its quorum but stayed {data['status']}")
        case.status = data["status"]

    def _check_amendment(self, case: Case, actor: str, data: Mapping[str, Any], refuse: Any) -> None:
        if actor != case.filer:
            refuse(f"{actor} amended {case.filer}'s decision")
        if case.status != "pending":
            refuse(f"amended a decision that was {case.status}")
        before = case.content
        after = {**before, "title": data["title"], "attributes": data["attributes"], "rationale": data["rationale"]}
        after["tier"] = data["tier"]
        changed = {k for k in CONTENT_FIELDS if before.get(k) != after.get(k)}
        if changed == {"attributes"}:
            spec = self.policy.categories.get(case.category)
            fields = spec.fields if spec is not None else {}
            keys = set(before["attributes"]) | set(after["attributes"])
            moved = {k for k in keys if before["attributes"].get(k) != after["attributes"].get(k)}
            # Only fields the policy declares immaterial may move under the approvals.
            immaterial = all(k in fields and getattr(fields[k], "material", True) is False for k in moved)
        else:
            immaterial = not changed
        tier = self.policy.tiers[data["tier"]]
        if not immaterial or tier.invalidate_on_amend == "always":
            case.votes = []
        case.content = after
        case.tier = data["tier"]
        if tier.self_approved:
            expected = "resolved"
        elif self.quorum_met(case) and case.votes:
            expected = "approved"
        else:
            expected = "pending"
        self._claim(case, data, expected, refuse)
