"""Commands: every write a person can make, each decided by the pure lifecycle and appended in one transaction."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Connection, insert, select, update

from engine.classify import classify
from engine.errors import (
    Forbidden,
    IdempotencyConflict,
    InvalidInput,
    NotFound,
)
from engine.ids import new_decision_id
from engine.lifecycle import (
    DecisionState,
    amend,
    give_verdict,
    proceed,
    state_of,
    status_at_filing,
    supersede,
    withdraw,
)
from engine.log.appender import AppendedEvent, NewEvent
from engine.log.canonical import canonical_bytes, format_at
from engine.read_model import fold
from engine.routing import route_for
from engine.store.delegations import delegators_in_force
from engine.store.mapping import classification_view, decision_view
from engine.store.rows import decision_row
from engine.store.tables import Decision, Delegation, Event, IdempotencyKey
from engine.types import (
    AmendRequest,
    ClassificationView,
    CommentRequest,
    DecisionView,
    DelegationRequest,
    DelegationView,
    FilingRequest,
    FilingResult,
    ProceedRequest,
    Route,
    VerdictRequest,
    WithdrawRequest,
)
from engine.writer import LogWriter
from policy.compiled import AttributesInvalid, FieldError, Person, Policy

Clock = Callable[[], datetime]

FILING_ROLES = frozenset({"squad_member", "tech_pm", "director", "admin"})
POLICY_CATEGORY = "policy"

_decisions = Decision.__table__  # type: ignore[attr-defined]
_events = Event.__table__  # type: ignore[attr-defined]
_INSERT_DECISION = insert(_decisions)  # built once: the filing path runs it under the chain lock
_idempotency = IdempotencyKey.__table__  # type: ignore[attr-defined]
_delegations = Delegation.__table__  # type: ignore[attr-defined]


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

    def _append(self, conn: Connection, events: list[NewEvent]) -> list[AppendedEvent]:
        return self.writer.append(conn, events)

    # -- classification -----------------------------------------------------------------------------

    def _classify(self, policy: Policy, request: FilingRequest, filer: str) -> tuple[Any, Route]:
        try:
            result = classify(policy, request.category, request.attributes)
        except AttributesInvalid as exc:
            raise InvalidInput(exc.errors) from exc
        if not result.known_category:
            # Unknown categories pass through unvalidated: still, only what the log can hold.
            problems = list(_unloggable(result.attributes, "$.attributes"))
            if problems:
                raise InvalidInput(problems)
        return result, route_for(policy, result.tier, filer)

    def classify(self, actor: Person, request: FilingRequest) -> ClassificationView:
        policy = self.policies.current
        result, route = self._classify(policy, request, actor.name)
        return classification_view(policy, result, route)

    def _filing_data(self, policy: Policy, actor: Person, request: FilingRequest) -> dict[str, Any]:
        result, route = self._classify(policy, request, actor.name)
        if self.governance is not None and result.known_category and request.category == POLICY_CATEGORY:
            self.governance.check_candidate(result.attributes)
        return {
            "title": request.title,
            "category": request.category,
            "attributes": result.attributes,
            "rationale": request.rationale,
            "client": request.client,
            "links": list(request.links),
            "squad": actor.squad,
            "tier": result.tier,
            "base_tier": result.base_tier,
            "known_category": result.known_category,
            "matched_rules": self._matched(policy, request.category, result),
            "route": msgspec.to_builtins(route),
            "status": status_at_filing(policy.tiers[result.tier]),
            "policy_version": result.policy_version,
            "supersedes": request.supersedes,
        }

    @staticmethod
    def _matched(policy: Policy, category: str, result: Any) -> list[dict[str, Any]]:
        spec = policy.categories.get(category)
        reads = {r.id: sorted(r.reads) for r in spec.rules} if spec is not None else {}
        return [
            {"id": r.id, "tier": r.tier, "description": r.description, "reads": reads.get(r.id, [])}
            for r in result.matched_rules
        ]

    def file(self, actor: Person, request: FilingRequest, idempotency_key: str | None = None) -> FilingResult:
        result: FilingResult = self._write(self.filing_work(actor, request, idempotency_key))
        return result

    def file_later(
        self, actor: Person, request: FilingRequest, idempotency_key: str | None = None
    ) -> Future[FilingResult] | None:
        """Validate and classify now, and queue the append for group commit without waiting.

        For an event loop: the returned future resolves after the commit. None when the filing
        has to run in a thread instead (group commit off, or a policy filing, whose candidate
        check reads the database).
        """
        if not self.writer.group_commit or request.category == POLICY_CATEGORY:
            return None
        return self.writer.enqueue(self.filing_work(actor, request, idempotency_key))

    def filing_work(
        self, actor: Person, request: FilingRequest, idempotency_key: str | None = None
    ) -> Callable[[Connection], FilingResult]:
        """Everything a filing checks before the log's lock (raising on bad input), and the write to run under it."""
        if not (actor.roles & FILING_ROLES):
            raise Forbidden(f"{actor.name} holds only {', '.join(sorted(actor.roles))}, which is read-only")
        # Classify before taking the lock, so invalid input never waits on other writers.
        policy = self.policies.current
        data = self._filing_data(policy, actor, request)
        # Only a keyed request is ever compared with a replay.
        request_hash = (
            hashlib.sha256(canonical_bytes(msgspec.to_builtins(request))).hexdigest()
            if idempotency_key is not None
            else None
        )

        def work(conn: Connection) -> FilingResult:
            nonlocal policy, data
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
            if self.policies.current is not policy:
                # Another worker activated a new policy while we waited for the lock.
                policy = self.policies.current
                data = self._filing_data(policy, actor, request)
            decision_id = new_decision_id(self.clock())
            old = self._check_supersedable(conn, request.supersedes) if request.supersedes else None
            [event] = self._append(conn, [NewEvent("decision_filed", actor.name, decision_id, data)])
            filed = fold(None, msgspec.json.decode(event.body))
            assert filed is not None
            conn.execute(_INSERT_DECISION, filed)
            if old is not None and filed["status"] == "resolved":
                self._supersede(conn, old, decision_id, actor.name)
            if idempotency_key is not None:
                conn.execute(
                    insert(_idempotency).values(
                        actor=actor.name,
                        key=idempotency_key,
                        request_hash=request_hash,
                        decision_id=decision_id,
                        created_at=event.at,
                    )
                )
            return FilingResult(decision=decision_view(policy, filed), created=True)

        return work

    def _check_supersedable(self, conn: Connection, decision_id: str) -> dict[str, Any]:
        try:
            row = decision_row(conn, decision_id)
        except NotFound as exc:
            raise InvalidInput([FieldError("$.supersedes", f"no decision {decision_id}")]) from exc
        if row["status"] in {"withdrawn", "superseded"}:
            raise InvalidInput([FieldError("$.supersedes", f"decision {decision_id} is {row['status']}")])
        return row

    def _apply(self, conn: Connection, row: dict[str, Any], event: AppendedEvent) -> dict[str, Any]:
        updated = fold(row, msgspec.json.decode(event.body))
        assert updated is not None
        conn.execute(
            update(_decisions)
            .where(_decisions.c.id == row["id"])
            .values({k: v for k, v in updated.items() if k != "id"})
        )
        return updated

    def _supersede(self, conn: Connection, old: dict[str, Any], by: str, actor: str) -> None:
        t = supersede(state_of(old), by)
        [event] = self._append(conn, [NewEvent(t.event_type, actor, old["id"], t.data)])
        self._apply(conn, old, event)

    def _transition(self, decision_id: str, build: Callable[[Connection, Policy, DecisionState], Any]) -> DecisionView:
        policy = self.policies.current

        def work(conn: Connection) -> DecisionView:
            row = decision_row(conn, decision_id)
            new_event = build(conn, policy, state_of(row))
            [event] = self._append(conn, [new_event])
            updated = self._apply(conn, row, event)
            if updated["status"] == "approved" and updated.get("supersedes"):
                old = decision_row(conn, updated["supersedes"])
                if old["status"] not in {"withdrawn", "superseded"}:
                    self._supersede(conn, old, decision_id, "system")
            return decision_view(policy, updated)

        view: DecisionView = self._write(work)
        return view

    def decide(self, actor: Person, decision_id: str, request: VerdictRequest) -> DecisionView:
        def build(conn: Connection, policy: Policy, state: DecisionState) -> NewEvent:
            delegators = delegators_in_force(conn, policy, actor, self.clock())
            t = give_verdict(state, policy.tiers[state.tier], actor, request.verdict, request.reason, delegators)
            return NewEvent(t.event_type, actor.name, state.id, t.data)

        view = self._transition(decision_id, build)
        if view.category == POLICY_CATEGORY and view.status == "approved" and self.governance is not None:
            # Approval is what activates a policy: the activation is its own logged event.
            self.governance.activate_approved(actor.name, view)
        return view

    def withdraw(self, actor: Person, decision_id: str, request: WithdrawRequest) -> DecisionView:
        def build(conn: Connection, policy: Policy, state: DecisionState) -> NewEvent:
            t = withdraw(state, actor, request.reason)
            return NewEvent(t.event_type, actor.name, state.id, t.data)

        return self._transition(decision_id, build)

    def proceed(self, actor: Person, decision_id: str, request: ProceedRequest) -> DecisionView:
        """Break-glass: proceed now; every approver on the route is notified and must ratify or reject."""

        def build(conn: Connection, policy: Policy, state: DecisionState) -> NewEvent:
            t = proceed(state, policy.tiers[state.tier], actor, request.reason)
            return NewEvent(t.event_type, actor.name, state.id, t.data)

        return self._transition(decision_id, build)

    def comment(self, actor: Person, decision_id: str, request: CommentRequest) -> DecisionView:
        def build(conn: Connection, policy: Policy, state: DecisionState) -> NewEvent:
            return NewEvent("comment_added", actor.name, state.id, {"text": request.text})

        return self._transition(decision_id, build)

    def amend(self, actor: Person, decision_id: str, request: AmendRequest) -> DecisionView:
        """Re-classify under the active policy; approvals are dismissed when the change is material."""

        def build(conn: Connection, policy: Policy, state: DecisionState) -> NewEvent:
            row = decision_row(conn, decision_id)
            if actor.name != state.filed_by:
                raise Forbidden(f"only the filer ({state.filed_by}) may amend this decision")
            filing = FilingRequest(
                title=request.title if request.title is not None else row["title"],
                category=row["category"],
                attributes=request.attributes if request.attributes is not None else row["attributes"],
                rationale=request.rationale if request.rationale is not None else row["rationale"],
                client=row["client"],
                links=row["links"],
            )
            result, route = self._classify(policy, filing, actor.name)
            matched = self._matched(policy, row["category"], result)
            new_tier = policy.tiers[result.tier]
            reads = frozenset(f for m in matched for f in m["reads"])
            _kept, dismissed, status = amend(
                state, actor, new_tier, result.attributes, reads, route, new_tier.invalidate_on_amend
            )
            return NewEvent(
                "decision_amended",
                actor.name,
                state.id,
                {
                    "title": filing.title,
                    "attributes": result.attributes,
                    "rationale": filing.rationale,
                    "tier": result.tier,
                    "base_tier": result.base_tier,
                    "known_category": result.known_category,
                    "matched_rules": matched,
                    "route": msgspec.to_builtins(route),
                    "policy_version": result.policy_version,
                    "dismissed": dismissed,
                    "reason": request.reason,
                    "status": status,
                },
            )

        return self._transition(decision_id, build)

    # -- delegation ---------------------------------------------------------------------------------

    def delegate(self, actor: Person, request: DelegationRequest) -> DelegationView:
        policy = self.policies.current
        if request.role not in actor.roles:
            raise Forbidden(
                f"{actor.name} does not hold {request.role} in their own right; a delegate cannot pass it on"
            )
        if request.delegate == actor.name or request.delegate not in policy.people:
            raise InvalidInput([FieldError("$.delegate", "name another person of the policy's directory")])
        if request.ends_at <= request.starts_at:
            raise InvalidInput([FieldError("$.ends_at", "must be after starts_at")])
        if not any(
            t.delegation and t.approvers and request.role in t.approvers.all_roles for t in policy.tiers.values()
        ):
            raise Forbidden(f"the policy allows no delegation of the {request.role} sign-off")
        delegation_id = "G" + new_decision_id(self.clock())[1:]
        data = {
            "delegation_id": delegation_id,
            "delegate": request.delegate,
            "role": request.role,
            "starts_at": format_at(request.starts_at),
            "ends_at": format_at(request.ends_at),
        }

        def work(conn: Connection) -> DelegationView:
            [event] = self._append(conn, [NewEvent("delegation_granted", actor.name, None, data)])
            conn.execute(
                insert(_delegations).values(
                    id=delegation_id,
                    delegator=actor.name,
                    delegate=request.delegate,
                    role=request.role,
                    starts_at=request.starts_at,
                    ends_at=request.ends_at,
                    granted_seq=event.seq,
                )
            )
            return DelegationView(
                id=delegation_id,
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
            if row is None:
                raise NotFound(f"no delegation {delegation_id}")
            if row["delegator"] != actor.name:
                raise Forbidden("only the person who delegated may revoke the delegation")
            if row["revoked_seq"] is not None:
                return
            [event] = self._append(
                conn, [NewEvent("delegation_revoked", actor.name, None, {"delegation_id": delegation_id})]
            )
            conn.execute(update(_delegations).where(_delegations.c.id == delegation_id).values(revoked_seq=event.seq))

        self._write(work)


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
