"""The service layer: validates, classifies, routes and appends, one transaction per command.

Pure decisions (classification, routing, lifecycle) come from the functional core;
this module only sequences them around the store. Every write takes the chain
head lock first, so reads made inside the transaction (idempotency keys, the
decision's state) cannot go stale before the append.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from sqlalchemy import Connection, Engine, and_, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from engine.classify import classify
from engine.errors import (
    Conflict,
    DomainError,
    Forbidden,
    IdempotencyConflict,
    InvalidInput,
    LogIntegrityError,
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
from engine.log.appender import AppendedEvent, NewEvent, append_events, read_tip, write_tip
from engine.log.canonical import canonical_bytes, format_at
from engine.read_model import fold
from engine.routing import route_for
from engine.store.db import read_transaction, write_transaction
from engine.store.group_commit import Done, Failed, GroupCommitter, Outcome
from engine.store.mapping import classification_view, decision_detail, decision_view, event_view
from engine.store.tables import ApiToken, Decision, Delegation, Event, IdempotencyKey
from engine.types import (
    OPEN_STATUSES,
    AmendRequest,
    ClassificationView,
    CommentRequest,
    DecisionDetail,
    DecisionFilter,
    DecisionPage,
    DecisionView,
    DelegationRequest,
    DelegationView,
    FilingRequest,
    FilingResult,
    InboxItem,
    ProceedRequest,
    Route,
    VerdictRequest,
    WithdrawRequest,
)
from policy.compiled import AttributesInvalid, FieldError, Person, Policy, Tier

if TYPE_CHECKING:
    from engine.log.chain import VerifyResult

Clock = Callable[[], datetime]
#: Called inside the append transaction with the events just appended (e.g. the notification
#: outbox), so whatever it writes commits or rolls back together with the events.
AppendHook = Callable[[Connection, list[AppendedEvent], Policy], None]

FILING_ROLES = frozenset({"squad_member", "tech_pm", "director", "admin"})
TOKEN_PREFIX = "drt"
POLICY_CATEGORY = "policy"
MAX_WRITE_ATTEMPTS = 5

_decisions = Decision.__table__  # type: ignore[attr-defined]
_events = Event.__table__  # type: ignore[attr-defined]
_INSERT_DECISION = insert(_decisions)  # built once: the filing path runs it under the chain lock
_tokens = ApiToken.__table__  # type: ignore[attr-defined]
_idempotency = IdempotencyKey.__table__  # type: ignore[attr-defined]
_delegations = Delegation.__table__  # type: ignore[attr-defined]


def system_clock() -> datetime:
    return datetime.now(UTC)


class _TokenCache:
    """Verified tokens (id -> person, secret hash) for a few seconds, shared by every service of a process.

    A filing paid more for its token lookup (a read transaction and a thread hand-off) than for
    classifying. Only valid, unrevoked tokens are kept, and the secret is still compared in
    constant time on every request. Revocation clears the process's entries at once; another
    worker process stops accepting the token within TOKEN_CACHE_SECONDS.
    """

    def __init__(self, seconds: float, capacity: int = 10_000) -> None:
        self.seconds = seconds
        self.capacity = capacity
        self._entries: dict[tuple[Any, str], tuple[str, str, float]] = {}
        self._lock = threading.Lock()

    def get(self, url: Any, token_id: str) -> tuple[str, str] | None:
        entry = self._entries.get((url, token_id))
        if entry is None or time.monotonic() - entry[2] >= self.seconds:
            return None
        return entry[0], entry[1]

    def put(self, url: Any, token_id: str, person: str, secret_hash: str) -> None:
        with self._lock:
            if len(self._entries) >= self.capacity:
                self._entries.clear()
            self._entries[(url, token_id)] = (person, secret_hash, time.monotonic())

    def forget_person(self, person: str) -> None:
        with self._lock:
            self._entries = {k: v for k, v in self._entries.items() if v[0] != person}


TOKEN_CACHE_SECONDS = 2.0
_TOKENS = _TokenCache(TOKEN_CACHE_SECONDS)


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _is_retryable(exc: DBAPIError) -> bool:
    # Unique/serialisation failures and SQLite's "database is locked" are safe to retry:
    # the transaction was rolled back whole.
    if isinstance(exc, IntegrityError):
        return True
    code = getattr(exc.orig, "sqlstate", None)
    return code in {"40001", "40P01"} or "locked" in str(exc.orig).lower()


class _JobFailed(Exception):
    """Rolls a group-commit batch back so it can run again without the job that failed."""


class DecisionService:
    def __init__(
        self, engine: Engine, policies: Any, origin: str, clock: Clock = system_clock, *, group_commit: bool = False
    ) -> None:
        self.engine = engine
        self.policies = policies
        self.origin = origin
        self.clock = clock
        self.append_hooks: list[AppendHook] = []
        #: Governed policy activation (engine.activation); None in tests that run without it.
        self.governance: Any = None
        self._sqlite_writer: Any = threading.Lock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()
        #: Per thread, the chain tip of the write transaction in progress (see appender.ChainTip).
        self._tx = threading.local()
        self._committer = GroupCommitter(self._write_batch) if group_commit else None
        #: Set when the log must not grow (e.g. the database is behind its last signed checkpoint).
        self.append_blocked: str | None = None
        #: Signed (size, root) pairs the log must reproduce; wired to the checkpoint service by the runtime.
        self.trusted_checkpoints: Callable[[], list[tuple[int, bytes]]] = list

    def close(self) -> None:
        """Answer the writes still queued for group commit, then release the database."""
        if self._committer is not None:
            self._committer.close()
        self.engine.dispose()

    # -- tokens -------------------------------------------------------------------------------------

    def create_token(self, person: str, label: str | None = None) -> str:
        if person not in self.policies.current.people:
            raise NotFound(f"{person!r} is not in the policy's people directory")
        token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        with write_transaction(self.engine) as conn:
            conn.execute(
                insert(_tokens).values(
                    id=token_id,
                    person=person,
                    secret_hash=_hash_secret(secret),
                    label=label,
                    created_at=self.clock(),
                )
            )
        return f"{TOKEN_PREFIX}_{token_id}_{secret}"

    def authenticate(self, token: str) -> Person | None:
        known = self.authenticate_cached(token)
        if known is not False:
            return known
        token_id, secret = token.split("_", 2)[1:]  # well-formed: authenticate_cached checked it
        with read_transaction(self.engine) as conn:
            row = conn.execute(
                select(_tokens.c.person, _tokens.c.secret_hash, _tokens.c.revoked_at).where(_tokens.c.id == token_id)
            ).first()
        live = row if row is not None and not row.revoked_at else None
        # Compare even when the id is unknown, so timing says nothing about which ids exist.
        expected = live.secret_hash if live is not None else "0" * 64
        if not hmac.compare_digest(_hash_secret(secret), expected) or live is None:
            return None
        _TOKENS.put(self.engine.url, token_id, live.person, expected)
        return self.policies.current.people.get(live.person)

    def authenticate_cached(self, token: str) -> Person | Literal[False] | None:
        """`authenticate` without touching the database: False when the answer needs a lookup."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX or len(parts[1]) != 16:
            return None
        cached = _TOKENS.get(self.engine.url, parts[1])
        if cached is None:
            return False
        person, expected = cached
        if not hmac.compare_digest(_hash_secret(parts[2]), expected):
            return None
        # The roles are the current policy's, whatever the cache holds: a directory change applies at once.
        return self.policies.current.people.get(person)

    def revoke_tokens(self, person: str) -> int:
        _TOKENS.forget_person(person)
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                update(_tokens)
                .where(_tokens.c.person == person, _tokens.c.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            )
        return result.rowcount

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

    # -- writes -------------------------------------------------------------------------------------

    def _write(self, work: Callable[[Connection], Any]) -> Any:
        if self._committer is not None:
            return self._committer.submit(work)
        # SQLite admits one writer at a time and makes the others poll with growing sleeps (its busy
        # handler): under load, threads of this process queue on a Python lock instead and take
        # the database lock the moment it is free. PostgreSQL serialises on the head row itself.
        with self._sqlite_writer:
            return self._write_attempts(work)

    def _begin_write(self, conn: Connection) -> None:
        tip = read_tip(conn)
        self._tx.tip = tip
        if self.governance is not None and tip.policy_version != self.policies.current.version:
            self.governance.follow(conn, tip.policy_version)

    def _write_attempts(self, work: Callable[[Connection], Any]) -> Any:
        for attempt in range(MAX_WRITE_ATTEMPTS):
            try:
                with write_transaction(self.engine) as conn:
                    self._begin_write(conn)
                    result = work(conn)
                    write_tip(self._tx.tip)
                    return result
            except DBAPIError as exc:
                if attempt + 1 == MAX_WRITE_ATTEMPTS or not _is_retryable(exc):
                    raise
        raise AssertionError("unreachable")

    def _write_batch(self, works: Sequence[Callable[[Connection], Any]]) -> list[Outcome]:
        """Run `works` in order in one transaction (group commit); one outcome each, after the commit.

        A job that fails takes only itself out: the transaction is rolled back and the batch
        runs again without it, so the others commit exactly as if it had run alone after them
        (its failure was decided on the state they left). A job that failed in the database
        (a unique key raced by another process, say) runs again alone, with the usual retries.
        """
        outcomes: dict[int, Outcome] = {}
        pending = list(range(len(works)))
        alone: list[int] = []
        attempts = 0
        while pending:
            failed: int | None = None
            try:
                with write_transaction(self.engine) as conn:
                    self._begin_write(conn)
                    results: dict[int, Any] = {}
                    for i in pending:
                        try:
                            results[i] = works[i](conn)
                        except DBAPIError:
                            failed = i
                            alone.append(i)
                            raise _JobFailed from None
                        except Exception as exc:  # the job's own error goes to its caller
                            failed = i
                            outcomes[i] = Failed(exc)
                            raise _JobFailed from None
                    write_tip(self._tx.tip)
            except _JobFailed:
                pending.remove(failed)  # type: ignore[arg-type]
                continue
            except DBAPIError as exc:
                attempts += 1
                if attempts < MAX_WRITE_ATTEMPTS and _is_retryable(exc):
                    continue
                outcomes.update((i, Failed(exc)) for i in pending)
                break
            outcomes.update((i, Done(value)) for i, value in results.items())
            break
        for i in alone:
            try:
                outcomes[i] = Done(self._write_attempts(works[i]))
            except Exception as exc:
                outcomes[i] = Failed(exc)
        return [outcomes[i] for i in range(len(works))]

    def _append(self, conn: Connection, events: list[NewEvent]) -> list[AppendedEvent]:
        if self.append_blocked is not None:
            raise LogIntegrityError(self.append_blocked)
        appended = append_events(conn, self.origin, self.clock, events, getattr(self._tx, "tip", None))
        for hook in self.append_hooks:
            hook(conn, appended, self.policies.current)
        return appended

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
        if self._committer is None or request.category == POLICY_CATEGORY:
            return None
        return self._committer.enqueue(self.filing_work(actor, request, idempotency_key))

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
                    row = self._decision_row(conn, earlier.decision_id)
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

    def _decision_row(self, conn: Connection, decision_id: str) -> dict[str, Any]:
        row = conn.execute(select(_decisions).where(_decisions.c.id == decision_id)).mappings().first()
        if row is None:
            raise NotFound(f"no decision {decision_id}")
        return dict(row)

    def _check_supersedable(self, conn: Connection, decision_id: str) -> dict[str, Any]:
        try:
            row = self._decision_row(conn, decision_id)
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
            row = self._decision_row(conn, decision_id)
            new_event = build(conn, policy, state_of(row))
            [event] = self._append(conn, [new_event])
            updated = self._apply(conn, row, event)
            if updated["status"] == "approved" and updated.get("supersedes"):
                old = self._decision_row(conn, updated["supersedes"])
                if old["status"] not in {"withdrawn", "superseded"}:
                    self._supersede(conn, old, decision_id, "system")
            return decision_view(policy, updated)

        view: DecisionView = self._write(work)
        return view

    def decide(self, actor: Person, decision_id: str, request: VerdictRequest) -> DecisionView:
        def build(conn: Connection, policy: Policy, state: DecisionState) -> NewEvent:
            delegators = self._delegators(conn, policy, actor, self.clock())
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
            row = self._decision_row(conn, decision_id)
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

    def _delegators(self, conn: Connection, policy: Policy, actor: Person, now: datetime) -> list[tuple[Person, str]]:
        rows = conn.execute(
            select(_delegations.c.delegator, _delegations.c.role).where(
                _delegations.c.delegate == actor.name,
                _delegations.c.revoked_seq.is_(None),
                _delegations.c.starts_at <= now,
                _delegations.c.ends_at > now,
            )
        ).all()
        out = []
        for delegator, role in rows:
            person = policy.people.get(delegator)
            # The delegator must still hold the role: a delegation never outlives its source.
            if person is not None and role in person.roles:
                out.append((person, role))
        return out

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

    def delegations(self, person: Person) -> list[DelegationView]:
        with read_transaction(self.engine) as conn:
            rows = (
                conn.execute(
                    select(_delegations)
                    .where((_delegations.c.delegator == person.name) | (_delegations.c.delegate == person.name))
                    .order_by(_delegations.c.granted_seq)
                )
                .mappings()
                .all()
            )
        return [
            DelegationView(
                id=r["id"],
                delegator=r["delegator"],
                delegate=r["delegate"],
                role=r["role"],
                starts_at=r["starts_at"],
                ends_at=r["ends_at"],
                revoked=r["revoked_seq"] is not None,
            )
            for r in rows
        ]

    # -- reads --------------------------------------------------------------------------------------

    def get(self, decision_id: str) -> DecisionDetail:
        policy = self.policies.current
        with read_transaction(self.engine) as conn:
            row = self._decision_row(conn, decision_id)
            events = (
                conn.execute(select(_events).where(_events.c.decision_id == decision_id).order_by(_events.c.seq))
                .mappings()
                .all()
            )
        return decision_detail(policy, row, [event_view(dict(e)) for e in events])

    def list_decisions(self, filters: DecisionFilter, cursor: str | None = None, limit: int = 50) -> DecisionPage:
        policy = self.policies.current
        conditions = []
        for column in ("status", "tier", "category", "squad", "filed_by"):
            value = getattr(filters, column)
            if value is not None:
                conditions.append(_decisions.c[column] == value)
        if filters.since is not None:
            conditions.append(_decisions.c.created_at >= filters.since)
        if filters.until is not None:
            conditions.append(_decisions.c.created_at < filters.until)
        if cursor is not None:
            conditions.append(_decisions.c.filed_seq < _decode_cursor(cursor))
        query = select(_decisions).order_by(_decisions.c.filed_seq.desc()).limit(limit + 1)
        if conditions:
            query = query.where(and_(*conditions))
        with read_transaction(self.engine) as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = _encode_cursor(rows[-1]["filed_seq"]) if more and rows else None
        return DecisionPage(items=[decision_view(policy, r) for r in rows], next_cursor=next_cursor)

    def inbox(self, actor: Person) -> list[InboxItem]:
        """What waits on me (or on someone whose sign-off I hold by delegation), oldest first."""
        policy = self.policies.current
        now = self.clock()
        with read_transaction(self.engine) as conn:
            rows = (
                conn.execute(
                    select(_decisions)
                    .where(_decisions.c.status.in_(sorted(OPEN_STATUSES)))
                    .order_by(_decisions.c.filed_seq)
                )
                .mappings()
                .all()
            )
            delegators = self._delegators(conn, policy, actor, now)
        items = []
        for raw in rows:
            row = dict(raw)
            tier = policy.tiers.get(row["tier"])
            if tier is None:
                continue
            on_behalf_of = self._inbox_reason(tier, row, actor, delegators)
            if on_behalf_of is False:
                continue
            due = row["created_at"] + tier.sla if tier.sla is not None else None
            items.append(
                InboxItem(
                    decision=decision_view(policy, row),
                    waiting_seconds=(now - row["created_at"]).total_seconds(),
                    due_at=due,
                    overdue=due is not None and now > due,
                    on_behalf_of=on_behalf_of if isinstance(on_behalf_of, str) else None,
                )
            )
        return items

    @staticmethod
    def _inbox_reason(
        tier: Tier, row: dict[str, Any], actor: Person, delegators: list[tuple[Person, str]]
    ) -> str | bool | None:
        """None: in my own right; a name: on that person's behalf; False: not for me."""
        state = state_of(row)
        try:
            transition = give_verdict(state, tier, actor, "approve", None, delegators)
        except DomainError:
            return False
        return transition.data["on_behalf_of"]

    def iter_event_rows(self, batch: int = 2000) -> Iterator[dict[str, Any]]:
        """Stream every event in seq order, in constant memory."""
        with self.engine.connect() as conn:
            result = conn.execute(select(_events).order_by(_events.c.seq).execution_options(yield_per=batch))
            for row in result.mappings():
                yield dict(row)

    def verify_log(self) -> VerifyResult:
        from engine.log.chain import verify_chain
        from engine.store.stored_events import stored_records

        return verify_chain(stored_records(self.engine), origin=self.origin, checkpoints=self.trusted_checkpoints())


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


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("s"):
            raise ValueError(raw)
        return int(raw[1:])
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput([FieldError("$.cursor", "not a cursor this service issued")]) from exc


__all__ = ["Clock", "Conflict", "DecisionService", "system_clock"]
