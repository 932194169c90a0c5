"""Queries: reading decisions, the inbox, delegations and the log; nothing here writes."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, and_, select

from engine.errors import (
    DomainError,
    InvalidInput,
)
from engine.lifecycle import (
    give_verdict,
    state_of,
)
from engine.reminders import escalation_for
from engine.store.db import read_transaction
from engine.store.delegations import delegators_in_force
from engine.store.mapping import decision_detail, decision_view, event_view
from engine.store.rows import decision_row
from engine.store.tables import Decision, Delegation, Event
from engine.types import (
    OPEN_STATUSES,
    DecisionDetail,
    DecisionFilter,
    DecisionPage,
    DelegationView,
    InboxItem,
)
from policy.compiled import FieldError, Person, Tier

if TYPE_CHECKING:
    from engine.log.chain import VerifyResult

Clock = Callable[[], datetime]


_decisions = Decision.__table__  # type: ignore[attr-defined]
_events = Event.__table__  # type: ignore[attr-defined]
_delegations = Delegation.__table__  # type: ignore[attr-defined]


class Queries:
    def __init__(self, engine: Engine, policies: Any, origin: str, clock: Clock) -> None:
        self.engine = engine
        self.policies = policies
        self.origin = origin
        self.clock = clock
        #: Signed (size, root) pairs the log must reproduce; wired to the checkpoint service by the runtime.
        self.trusted_checkpoints: Callable[[], list[tuple[int, bytes]]] = list

    # -- reads --------------------------------------------------------------------------------------

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

    def get(self, decision_id: str) -> DecisionDetail:
        policy = self.policies.current
        with read_transaction(self.engine) as conn:
            row = decision_row(conn, decision_id)
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
            delegators = delegators_in_force(conn, policy, actor, now)
        items = []
        for raw in rows:
            row = dict(raw)
            tier = policy.tiers.get(row["tier"])
            if tier is None:
                continue
            on_behalf_of = self._inbox_reason(tier, row, actor, delegators)
            escalation = escalation_for(tier, row, actor, now)
            if on_behalf_of is False and escalation is None:
                continue
            due = row["created_at"] + tier.sla if tier.sla is not None else None
            items.append(
                InboxItem(
                    decision=decision_view(policy, row),
                    waiting_seconds=(now - row["created_at"]).total_seconds(),
                    due_at=due,
                    overdue=due is not None and now > due,
                    on_behalf_of=on_behalf_of if isinstance(on_behalf_of, str) else None,
                    escalated=escalation is not None,
                    escalation=escalation,
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
        """The chain and the signed checkpoints, and the head row and append-only guards that protect them."""
        from engine.store.integrity import verify_database

        return verify_database(self.engine, self.origin, self.trusted_checkpoints())


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("s") or not raw[1:].isdigit():
            raise ValueError(raw)
        seq = int(raw[1:])
        if seq > 2**63 - 1:  # a BIGINT column: anything larger was never issued, and PostgreSQL would fail on it
            raise ValueError(raw)
        return seq
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput([FieldError("$.query.cursor", "not a cursor this service issued")]) from exc
