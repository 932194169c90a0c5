"""Commands: every write a person can make. Each loads what is in force, asks the rules
(`engine.lifecycle.decide`) and appends what they return, in one transaction.

No authority check lives here: this module only gathers state (the decision, the one it
supersedes, the delegations the actor holds, stored candidate policies, the time) and applies
the events the rules planned to the read model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Connection, insert, select, update

from engine import lifecycle
from engine.classify import misspelt_category
from engine.errors import IdempotencyConflict, InvalidInput, NotFound
from engine.ids import new_decision_id
from engine.lifecycle import (
    FILING_ROLES,
    POLICY_CATEGORY,
    Authority,
    Command,
    DecisionState,
    Grant,
    Outcome,
    PlannedEvent,
    classified,
    state_of,
)
from engine.log.appender import AppendedEvent, NewEvent
from engine.log.canonical import canonical_bytes, parse_at
from engine.read_model import fold
from engine.routing import route_for
from engine.store.db import read_transaction
from engine.store.mapping import classification_view, decision_view
from engine.store.rows import decision_row
from engine.store.tables import Decision, Delegation, IdempotencyKey, PolicyVersion
from engine.types import (
    AmendPreview,
    AmendRequest,
    ClassificationView,
    CommentRequest,
    DecisionView,
    DelegationRequest,
    DelegationView,
    FilingRequest,
    FilingResult,
    ProceedRequest,
    VerdictRequest,
    WithdrawRequest,
)
from engine.writer import LogWriter
from policy.compiled import FieldError, Person, Policy
from policy.identity import with_authority

Clock = Callable[[], datetime]

__all__ = ["FILING_ROLES", "POLICY_CATEGORY", "Commands"]

_decisions = Decision.__table__  # type: ignore[attr-defined]
_INSERT_DECISION = insert(_decisions)  # built once: the filing path runs it under the chain lock
_idempotency = IdempotencyKey.__table__  # type: ignore[attr-defined]
_delegations = Delegation.__table__  # type: ignore[attr-defined]
_versions = PolicyVersion.__table__  # type: ignore[attr-defined]


def grants_held(conn: Connection, person: str) -> tuple[Grant, ...]:
    """Every unrevoked delegation to `person` (the rules decide which are in force at the instant)."""
    rows = conn.execute(
        select(_delegations).where(_delegations.c.delegate == person, _delegations.c.revoked_seq.is_(None))
    ).mappings()
    return tuple(Grant(r["id"], r["delegator"], r["delegate"], r["role"], r["starts_at"], r["ends_at"]) for r in rows)


def stored_candidates(conn: Connection, attributes: Any) -> dict[str, str]:
    version = attributes.get("candidate_version") if isinstance(attributes, dict) else None
    if not isinstance(version, str):
        return {}
    text = conn.execute(select(_versions.c.content).where(_versions.c.version == version)).scalar()
    return {version: text} if text is not None else {}


def _refuse_misspelt_category(policy: Policy, category: str) -> None:
    guess = misspelt_category(policy, category)
    if guess is not None:
        raise InvalidInput([FieldError("$.category", f"unknown category {category!r}: did you mean {guess!r}?")])


class Commands:
    def __init__(self, writer: LogWriter, policies: Any, clock: Clock) -> None:
        self.writer = writer
        self.engine = writer.engine
        self.policies = policies
        self.clock = clock

    @property
    def governance(self) -> Any:
        return self.writer.governance

    def _write(self, work: Callable[[Connection], Any]) -> Any:
        return self.writer.write(work)

    # -- classification -----------------------------------------------------------------------------

    def classify(self, actor: Person, request: FilingRequest) -> ClassificationView:
        policy = self.policies.current
        _refuse_misspelt_category(policy, request.category)
        result = classified(policy, request.category, request.attributes)
        return classification_view(policy, result, route_for(policy, result.tier, actor.name))

    # -- the one way a command is carried out ---------------------------------------------------------

    def _authority(self, conn: Connection, actor: Person, attributes: Any = None) -> Authority:
        return Authority(
            policy=self.policies.current,
            now=self.writer.now(),
            grants=grants_held(conn, actor.name),
            candidates=stored_candidates(conn, attributes),
        )

    def _carry_out(
        self, conn: Connection, outcome: Outcome, authority: Authority, actor: Person | None = None
    ) -> dict[str, dict[str, Any]]:
        """Append the planned events and apply each to the read model; returns the decision rows touched."""
        rows: dict[str, dict[str, Any]] = {}
        if not outcome.events:
            return rows
        appended = self.writer.append(
            conn,
            [
                NewEvent(
                    e.type,
                    e.actor,
                    e.decision_id,
                    with_authority(actor, e.data) if actor and e.actor == actor.name else e.data,
                )
                for e in outcome.events
            ],
            at=authority.now,
        )
        for planned, event in zip(outcome.events, appended, strict=True):
            self._apply(conn, planned, event, rows)
        return rows

    def _apply(
        self, conn: Connection, planned: PlannedEvent, event: AppendedEvent, rows: dict[str, dict[str, Any]]
    ) -> None:
        if planned.type == "decision_filed":
            filed = fold(None, msgspec.json.decode(event.body))
            assert filed is not None
            conn.execute(_INSERT_DECISION, filed)
            rows[filed["id"]] = filed
        elif planned.decision_id is not None:
            row = rows.get(planned.decision_id) or decision_row(conn, planned.decision_id)
            updated = fold(row, msgspec.json.decode(event.body))
            assert updated is not None
            conn.execute(
                update(_decisions)
                .where(_decisions.c.id == row["id"])
                .values({k: v for k, v in updated.items() if k != "id"})
            )
            rows[planned.decision_id] = updated
        elif planned.type == "delegation_granted":
            data = planned.data
            conn.execute(
                insert(_delegations).values(
                    id=data["delegation_id"],
                    delegator=planned.actor,
                    delegate=data["delegate"],
                    role=data["role"],
                    starts_at=parse_at(data["starts_at"]),
                    ends_at=parse_at(data["ends_at"]),
                    granted_seq=event.seq,
                )
            )
        elif planned.type == "delegation_revoked":
            conn.execute(
                update(_delegations)
                .where(_delegations.c.id == planned.data["delegation_id"])
                .values(revoked_seq=event.seq)
            )
        elif planned.type == "policy_activated" and self.governance is not None:
            self.governance.activated(conn, planned.data, event.seq)

    # -- filing -------------------------------------------------------------------------------------

    def file(self, actor: Person, request: FilingRequest, idempotency_key: str | None = None) -> FilingResult:
        result: FilingResult = self._write(self.filing_work(actor, request, idempotency_key))
        self._run_activated(result.decision.category, result.decision.status)
        return result

    def _run_activated(self, category: str, status: str) -> None:
        """Run at once the version a `policy` decision's approval activated: the log already says it is active.
        (No squad tier ever resolves a `policy` decision: the rules and the policy loader refuse it.)"""
        if self.governance is not None and category == POLICY_CATEGORY and status == "approved":
            self.governance.after_commit()

    def file_later(
        self, actor: Person, request: FilingRequest, idempotency_key: str | None = None
    ) -> Future[FilingResult] | None:
        """Validate and classify now, and queue the append for group commit without waiting.

        For an event loop: the returned future resolves after the commit. None when the filing
        has to run in a thread instead (group commit off, or a policy filing).
        """
        if not self.writer.group_commit or request.category == POLICY_CATEGORY:
            return None
        return self.writer.enqueue(self.filing_work(actor, request, idempotency_key))

    def filing_work(
        self, actor: Person, request: FilingRequest, idempotency_key: str | None = None
    ) -> Callable[[Connection], FilingResult]:
        """Everything a filing checks before the log's lock (raising on bad input), and the write to run under it."""
        command = lifecycle.File(
            title=request.title,
            category=request.category,
            attributes=request.attributes,
            rationale=request.rationale,
            client=request.client,
            links=tuple(request.links),
            supersedes=request.supersedes,
        )
        # Refuse what no state can make valid before taking the lock, so bad input never waits on
        # other writers; the rules decide again under the lock, with everything in force.
        _refuse_misspelt_category(self.policies.current, request.category)
        lifecycle.precheck_filing(command, actor, self.policies.current)
        # Only a keyed request is ever compared with a replay.
        request_hash = (
            hashlib.sha256(canonical_bytes(msgspec.to_builtins(request))).hexdigest()
            if idempotency_key is not None
            else None
        )

        def work(conn: Connection) -> FilingResult:
            policy = self.policies.current
            if idempotency_key is not None:
                earlier = conn.execute(
                    select(_idempotency.c.request_hash, _idempotency.c.decision_id).where(
                        _idempotency.c.actor == actor.name, _idempotency.c.key == idempotency_key
                    )
                ).first()
                if earlier is not None:
                    if earlier.request_hash != request_hash:
                        raise IdempotencyConflict(
                            "this Idempotency-Key was already used for a different request; use a new key"
                        )
                    row = decision_row(conn, earlier.decision_id)
                    return FilingResult(decision=decision_view(policy, row), created=False)
            authority = self._authority(
                conn, actor, request.attributes if request.category == POLICY_CATEGORY else None
            )
            old = self._superseded_state(conn, request.supersedes)
            decision_id = new_decision_id(self.clock())
            outcome = lifecycle.decide(command, actor, authority, related=old, decision_id=decision_id)
            rows = self._carry_out(conn, outcome, authority, actor)
            if idempotency_key is not None:
                conn.execute(
                    insert(_idempotency).values(
                        actor=actor.name,
                        key=idempotency_key,
                        request_hash=request_hash,
                        decision_id=decision_id,
                        created_at=authority.now,
                    )
                )
            return FilingResult(decision=decision_view(policy, rows[decision_id]), created=True)

        return work

    @staticmethod
    def _superseded_state(conn: Connection, decision_id: str | None) -> DecisionState | None:
        if decision_id is None:
            return None
        try:
            return state_of(decision_row(conn, decision_id))
        except NotFound as exc:
            raise InvalidInput([FieldError("$.supersedes", f"no decision {decision_id}")]) from exc

    # -- steps on a decision ----------------------------------------------------------------------------

    def _loaded(
        self, conn: Connection, actor: Person, decision_id: str, command: Command
    ) -> tuple[dict[str, Any], DecisionState, Authority, DecisionState | None]:
        """What the rules read to decide `command` on a decision: its row and state, the actor's authority
        now, and the decision it supersedes (if any)."""
        row = decision_row(conn, decision_id)
        state = state_of(row)
        attributes = command.attributes if isinstance(command, lifecycle.Amend) else None
        if state.category == POLICY_CATEGORY:
            attributes = attributes if attributes is not None else row["attributes"]
        authority = self._authority(conn, actor, attributes)
        related = None
        if state.supersedes is not None:
            related = state_of(decision_row(conn, state.supersedes))
        return row, state, authority, related

    def _on_decision(self, actor: Person, decision_id: str, command: Command) -> DecisionView:
        def work(conn: Connection) -> DecisionView:
            policy: Policy = self.policies.current
            row, state, authority, related = self._loaded(conn, actor, decision_id, command)
            outcome = lifecycle.decide(command, actor, authority, state=state, related=related)
            rows = self._carry_out(conn, outcome, authority, actor)
            return decision_view(policy, rows.get(decision_id, row))

        view: DecisionView = self._write(work)
        self._run_activated(view.category, view.status)
        return view

    def decide(
        self, actor: Person, decision_id: str, request: VerdictRequest, channel: str | None = None
    ) -> DecisionView:
        return self._on_decision(actor, decision_id, lifecycle.GiveVerdict(request.verdict, request.reason, channel))

    def withdraw(self, actor: Person, decision_id: str, request: WithdrawRequest) -> DecisionView:
        return self._on_decision(actor, decision_id, lifecycle.Withdraw(request.reason))

    def proceed(self, actor: Person, decision_id: str, request: ProceedRequest) -> DecisionView:
        """Break-glass: proceed now; every approver on the route is notified and must ratify or reject."""
        return self._on_decision(actor, decision_id, lifecycle.Proceed(request.reason))

    def comment(self, actor: Person, decision_id: str, request: CommentRequest) -> DecisionView:
        return self._on_decision(actor, decision_id, lifecycle.Comment(request.text))

    def amend(self, actor: Person, decision_id: str, request: AmendRequest) -> DecisionView:
        """Re-classify under the policy in force; approvals stay only for changes the policy calls immaterial."""
        command = lifecycle.Amend(request.title, request.attributes, request.rationale, request.reason)
        return self._on_decision(actor, decision_id, command)

    def preview_amend(self, actor: Person, decision_id: str, request: AmendRequest) -> AmendPreview:
        """What `amend` would do now, with nothing written: the same load and the same rules, read in one
        short transaction (the amend form's live preview). Refusals raise as `amend` would."""
        command = lifecycle.Amend(request.title, request.attributes, request.rationale, request.reason)
        with read_transaction(self.engine) as conn:
            _, state, authority, related = self._loaded(conn, actor, decision_id, command)
        data = lifecycle.decide(command, actor, authority, state=state, related=related).events[0].data
        return AmendPreview(
            was_tier=state.tier,
            tier=data["tier"],
            status=data["status"],
            reasons=[r["description"] or r["id"] for r in data["matched_rules"] if r["tier"] > data["base_tier"]],
            dismissed=list(data["dismissed"]),
            carried=list(data["carried"]),
        )

    # -- delegation ---------------------------------------------------------------------------------

    def delegate(self, actor: Person, request: DelegationRequest) -> DelegationView:
        command = lifecycle.Delegate(
            delegation_id="G" + new_decision_id(self.clock())[1:],
            delegate=request.delegate,
            role=request.role,
            starts_at=request.starts_at,
            ends_at=request.ends_at,
        )
        # Bad requests are refused before the lock; the rules decide again under it.
        lifecycle.decide(command, actor, Authority(self.policies.current, self.clock()))

        def work(conn: Connection) -> DelegationView:
            authority = self._authority(conn, actor)
            self._carry_out(conn, lifecycle.decide(command, actor, authority), authority, actor)
            return DelegationView(
                id=command.delegation_id,
                delegator=actor.name,
                delegate=request.delegate,
                role=request.role,
                starts_at=request.starts_at,
                ends_at=request.ends_at,
                revoked=False,
            )

        view: DelegationView = self._write(work)
        return view

    def revoke_delegation(self, actor: Person, delegation_id: str) -> None:
        def work(conn: Connection) -> None:
            row = conn.execute(select(_delegations).where(_delegations.c.id == delegation_id)).mappings().first()
            grant = (
                Grant(
                    row["id"],
                    row["delegator"],
                    row["delegate"],
                    row["role"],
                    row["starts_at"],
                    row["ends_at"],
                    revoked=row["revoked_seq"] is not None,
                )
                if row is not None
                else None
            )
            authority = self._authority(conn, actor)
            outcome = lifecycle.decide(lifecycle.RevokeDelegation(delegation_id), actor, authority, grant=grant)
            self._carry_out(conn, outcome, authority, actor)

        self._write(work)
