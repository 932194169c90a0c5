"""Queries: reading decisions, the inbox, delegations and the log; nothing here writes."""

from __future__ import annotations

import base64
import binascii
import heapq
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import ColumnElement, Connection, Engine, Select, TextClause, and_, bindparam, or_, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

from engine.errors import InvalidInput
from engine.lifecycle import Authority, InboxTier, inbox_scope, may_sign, offered_steps, state_of
from engine.reminders import escalation_for
from engine.store.db import read_transaction
from engine.store.delegations import delegators_in_force
from engine.store.mapping import decision_detail, decision_view, event_view
from engine.store.rows import decision_row
from engine.store.search import matching_seqs, search_terms
from engine.store.tables import OPEN_STATUSES_SQL, Decision, Delegation, Event
from engine.types import (
    OPEN_STATUSES,
    DecisionDetail,
    DecisionFilter,
    DecisionPage,
    DecisionSort,
    DecisionView,
    DelegationView,
    InboxItem,
    InboxPage,
    InboxSort,
)
from policy.compiled import FieldError, Person, Policy

if TYPE_CHECKING:
    from engine.log.chain import VerifyResult

Clock = Callable[[], datetime]


_decisions = Decision.__table__  # type: ignore[attr-defined]
_events = Event.__table__  # type: ignore[attr-defined]
_delegations = Delegation.__table__  # type: ignore[attr-defined]
#: What a decision's view (and the rules' state of it) reads: the read model without its bookkeeping.
_VIEW_COLUMNS = tuple(c for c in _decisions.c if c.name not in {"last_seq", "amendments"})
#: Open decisions, spelt with literals exactly as the partial index `ix_decisions_open` (migration
#: 0013_read_indexes) states its WHERE clause, so both SQLite and PostgreSQL can prove it applies.
OPEN_SQL = _decisions.c.status.in_(
    bindparam("open_statuses", sorted(OPEN_STATUSES), expanding=True, literal_execute=True)
)


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

    def list_decisions(
        self, filters: DecisionFilter, cursor: str | None = None, limit: int = 50, sort: DecisionSort = "newest"
    ) -> DecisionPage:
        policy = self.policies.current
        query = list_query(
            filters, _decode_keyset(sort, "newest", _SORT_KEYS[sort], cursor) if cursor is not None else None,
            limit + 1, sort,
            self.engine.dialect.name,
        )  # fmt: skip
        with read_transaction(self.engine) as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = _encode_keyset(sort, "newest", _SORT_KEYS[sort], rows[-1]) if more and rows else None
        return DecisionPage(items=[decision_view(policy, r) for r in rows], next_cursor=next_cursor)

    def iter_decisions(
        self, filters: DecisionFilter, sort: DecisionSort = "newest", batch: int = 1000
    ) -> Iterator[DecisionView]:
        """Every decision the filters match, in `sort` order, one short read transaction per batch.
        The first batch is read now, so a refused filter raises here rather than mid-stream."""
        first = self.list_decisions(filters, None, batch, sort)

        def rest() -> Iterator[DecisionView]:
            page = first
            while True:
                yield from page.items
                if page.next_cursor is None:
                    return
                page = self.list_decisions(filters, page.next_cursor, batch, sort)

        return rest()

    def inbox(self, actor: Person, cursor: str | None = None, limit: int = 50, sort: InboxSort = "oldest") -> InboxPage:
        """What waits on me (or on someone whose sign-off I hold by delegation), a page at a time, in `sort`
        order: oldest first (the longest wait on top), newest first, or highest tier first.

        The store walks the open decisions in that order (partial indexes hold only those), kept
        to the tiers and filers `inbox_scope` says could concern `actor`; the rules then decide each
        one (`may_sign`, `escalation_for`), so a row the filter lets through but the rules refuse
        (say, one I already approved) is skipped and the walk goes on until the page is full.
        """
        policy = self.policies.current
        now = self.clock()
        if sort == "due":
            after = _decode_due(cursor) if cursor is not None else None
        else:
            after = _decode_keyset(sort, "oldest", INBOX_SORT_KEYS[sort], cursor) if cursor is not None else None
        slas = {n: t.sla for n, t in policy.tiers.items()}
        items: list[tuple[dict[str, Any], InboxItem]] = []
        batch = max(limit + 1, 16)
        with read_transaction(self.engine) as conn:
            delegators = delegators_in_force(conn, policy, actor, now)
            scope = inbox_scope(policy, actor, delegators, now)
            segments = inbox_segments(scope, actor.name, sort, after, slas)
            for row in _in_order(segments, lambda s, seq: _rows(conn, inbox_query(s, seq, batch)), batch):
                item = self._inbox_item(policy, row, actor, delegators, now)
                if item is not None:
                    items.append((row, item))
                    if len(items) > limit:
                        break
        more = len(items) > limit
        page = items[:limit]
        next_cursor = None
        if more and page:
            last_row, last_item = page[-1]
            if sort == "due":
                next_cursor = _encode_due(last_item.due_at, last_row["filed_seq"])
            else:
                next_cursor = _encode_keyset(sort, "oldest", INBOX_SORT_KEYS[sort], last_row)
        return InboxPage(items=[item for _, item in page], next_cursor=next_cursor)

    @staticmethod
    def _inbox_item(
        policy: Policy, row: dict[str, Any], actor: Person, delegators: list[tuple[Person, str]], now: datetime
    ) -> InboxItem | None:
        tier = policy.tiers.get(row["tier"])
        if tier is None:
            return None
        on_behalf_of = may_sign(state_of(row), tier, actor, delegators)
        escalation = escalation_for(tier, row, actor, now)
        if on_behalf_of is False and escalation is None:
            return None
        due = row["created_at"] + tier.sla if tier.sla is not None else None
        return InboxItem(
            decision=decision_view(policy, row),
            waiting_seconds=(now - row["created_at"]).total_seconds(),
            due_at=due,
            overdue=due is not None and now > due,
            on_behalf_of=on_behalf_of if isinstance(on_behalf_of, str) else None,
            escalated=escalation is not None,
            escalation=escalation,
        )

    def may_approve(self, actor: Person, decision_id: str) -> bool:
        """Whether the rules would take `actor`'s approval of this one decision now (the web page's button)."""
        policy = self.policies.current
        now = self.clock()
        with read_transaction(self.engine) as conn:
            row = conn.execute(select(*_VIEW_COLUMNS).where(_decisions.c.id == decision_id)).mappings().first()
            if row is None or row["status"] not in OPEN_STATUSES:
                return False
            tier = policy.tiers.get(row["tier"])
            if tier is None:
                return False
            delegators = delegators_in_force(conn, policy, actor, now)
        return may_sign(state_of(dict(row)), tier, actor, delegators) is not False

    def offered_steps(self, actor: Person, decision_id: str) -> frozenset[str]:
        """The steps on this decision the rules would take from `actor` now (`lifecycle.offered_steps`):
        what the decision page offers."""
        policy = self.policies.current
        now = self.clock()
        with read_transaction(self.engine) as conn:
            row = conn.execute(select(*_VIEW_COLUMNS).where(_decisions.c.id == decision_id)).mappings().first()
            if row is None:
                return frozenset()
            delegators = delegators_in_force(conn, policy, actor, now)
        state = state_of(dict(row))
        return offered_steps(state, policy.tiers.get(row["tier"]), actor, Authority(policy, now), delegators)

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


class _Unindexed(ColumnElement[Any]):
    """A column the planner must not pick an index for. The inbox filters open decisions on tier,
    filer and filing time; SQLite, seeing `tier = 2`, prefers (tier, filed_seq) and then reads every
    tier-2 decision ever filed to find the few open ones. `+column` (a no-op in SQLite) keeps it on
    `ix_decisions_open`; PostgreSQL costs the partial index right by itself and sees the column."""

    inherit_cache = True
    #: The wrapped column is part of the statement's cache key (else `+tier` and `+filed_by` would share one).
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: Any) -> None:
        self.column = column
        self.type = column.type


@compiles(_Unindexed)
def _unindexed(element: _Unindexed, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column, **kw))


@compiles(_Unindexed, "sqlite")
def _unindexed_sqlite(element: _Unindexed, compiler: Any, **kw: Any) -> str:
    return f"+{compiler.process(element.column, **kw)}"


def list_query(
    filters: DecisionFilter,
    after: int | list[Any] | None,
    limit: int,
    sort: DecisionSort = "newest",
    dialect: str = "sqlite",
) -> Select[Any]:
    """A page of the list in `sort` order after the keyset values `after` (for newest first, the filing seq
    before which the page starts). Newest first, each filter column has an index (column, filed_seq), so the
    page is read off it in order (migration 0013_read_indexes; tests/engine/test_read_plans.py)."""
    conditions = []
    for column in ("status", "tier", "category", "squad", "filed_by"):
        value = getattr(filters, column)
        if value is not None:
            conditions.append(_decisions.c[column] == value)
    if filters.since is not None:
        conditions.append(_decisions.c.created_at >= filters.since)
    if filters.until is not None:
        conditions.append(_decisions.c.created_at < filters.until)
    if filters.q is not None:
        if not search_terms(filters.q):
            raise InvalidInput([FieldError("$.query.q", "give at least one word to search for")])
        conditions.append(matching_seqs(dialect, filters.q))  # type: ignore[arg-type]
    keys = _SORT_KEYS[sort]
    if after is not None:
        conditions.append(_after(keys, [after] if isinstance(after, int) else after))
    query = select(*_VIEW_COLUMNS).order_by(*(c.desc() if down else c.asc() for c, down in keys)).limit(limit)
    return query.where(and_(*conditions)) if conditions else query


@dataclass(frozen=True, slots=True)
class InboxSegment:
    """One ordered walk of the open decisions: those `condition` admits, in filing order (newest first when
    `newest`), after the filing seq `after_seq`. `tier` pins the walk to one tier (its own index range).

    For the due order, `sla` is the tier's SLA: the walks with one are merged by due time (filing time
    plus the SLA; within a tier filing order is due order, the log's time never going backwards), and
    `resume` is the (filing time, seq) a page ended after, in this tier's terms."""

    condition: ColumnElement[bool]
    after_seq: int | None
    newest: bool = False
    tier: int | None = None
    sla: timedelta | None = None
    resume: tuple[datetime, int] | None = None


def inbox_segments(
    scope: list[InboxTier],
    me: str,
    sort: InboxSort,
    after: list[Any] | None,
    slas: Mapping[int, timedelta | None] | None = None,
) -> list[InboxSegment]:
    """The walks that read an inbox in `sort` order from the keyset values `after`, one after another
    (for the due order, those with an `sla` merged by due time first; see `_in_order`).

    Oldest or newest first is one walk over the actor's whole scope. Highest tier first is one walk per
    tier, highest first, each in filing order: a walk a planner reads straight off an index range
    (`ix_decisions_open_tier`), where one statement ordered by (tier DESC, filed_seq) left PostgreSQL
    free to gather the tiers' rows with a bitmap and sort them."""
    if sort == "due":
        return _due_segments(scope, me, after, slas or {})
    if sort != "tier":
        condition = scope_condition(scope, me)
        if condition is None:
            return []
        return [InboxSegment(condition, after[0] if after else None, newest=sort == "newest")]
    segments = []
    for part in sorted(scope, key=lambda t: -t.tier):
        if after is not None and part.tier > after[0]:
            continue  # read on earlier pages
        condition = scope_condition([part], me)
        assert condition is not None  # one tier in scope is a condition
        start = after[1] if after is not None and part.tier == after[0] else None
        segments.append(InboxSegment(condition, start, tier=part.tier))
    return segments


def _due_segments(
    scope: list[InboxTier], me: str, after: list[Any] | None, slas: Mapping[int, timedelta | None]
) -> list[InboxSegment]:
    """Due soonest first: one walk per tier with an SLA (merged by due time), then one walk, in filing
    order, over the tiers without one. `after` is (due as epoch microseconds or None, filed_seq)."""
    due = None if after is None or after[0] is None else _EPOCH + timedelta(microseconds=after[0])
    segments = []
    if after is None or due is not None:  # a cursor without a due time is past every walk with one
        for part in scope:
            sla = slas.get(part.tier)
            if sla is None:
                continue
            condition = scope_condition([part], me)
            assert condition is not None  # one tier in scope is a condition
            resume = (due - sla, after[1]) if due is not None and after is not None else None
            segments.append(InboxSegment(condition, None, tier=part.tier, sla=sla, resume=resume))
    rest = scope_condition([p for p in scope if slas.get(p.tier) is None], me)
    if rest is not None:
        start = after[1] if after is not None and due is None else None
        segments.append(InboxSegment(rest, start))
    return segments


def _rows(conn: Connection, query: Select[Any]) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(query).mappings()]


def _in_order(
    segments: list[InboxSegment], read: Callable[[InboxSegment, int | None], list[dict[str, Any]]], batch: int
) -> Iterator[dict[str, Any]]:
    """The rows of the walks in the inbox's order, read a batch at a time as they are needed: the walks
    with an SLA merged by (due time, seq), then the others one after another."""

    def walk(segment: InboxSegment) -> Iterator[dict[str, Any]]:
        seq = segment.after_seq
        while True:
            rows = read(segment, seq)
            for row in rows:
                if segment.resume is None or (row["created_at"], row["filed_seq"]) > segment.resume:
                    yield row
            if len(rows) < batch:
                return
            seq = rows[-1]["filed_seq"]

    def timed(segment: InboxSegment, sla: timedelta) -> Iterator[tuple[datetime, int, dict[str, Any]]]:
        for row in walk(segment):
            yield row["created_at"] + sla, row["filed_seq"], row

    walks = [timed(s, s.sla) for s in segments if s.sla is not None]
    for _, _, row in heapq.merge(*walks, key=lambda t: (t[0], t[1])):
        yield row
    for segment in segments:
        if segment.sla is None:
            yield from walk(segment)


def inbox_query(segment: InboxSegment, after_seq: int | None, limit: int) -> Select[Any]:
    """A batch of one walk (`InboxSegment`) after `after_seq`, off a partial index of the open decisions:
    `ix_decisions_open` (filing order, either way) or, for one tier, `ix_decisions_open_tier`.

    The scope's columns are wrapped in `_Unindexed` (see there), so SQLite walks these indexes too;
    a tier's walk names its tier plainly as well, so the planner seeks to it.
    """
    seq = _decisions.c.filed_seq
    query = select(*_VIEW_COLUMNS).where(OPEN_SQL, segment.condition)
    if segment.tier is not None:
        query = query.where(_decisions.c.tier == segment.tier)
    if after_seq is not None:
        query = query.where(seq < after_seq if segment.newest else seq > after_seq)
    if segment.resume is not None:  # the rows at the resume instant itself are sorted out by `_in_order`
        query = query.where(_decisions.c.created_at >= segment.resume[0])
    return query.order_by(seq.desc() if segment.newest else seq.asc()).limit(limit)


def within_sla_query(cutoffs: dict[int, datetime], dialect: str) -> TextClause | None:
    """Per tier with an SLA, the open decisions filed at or after that tier's cutoff (now minus its SLA): those
    not yet overdue, which /metrics takes from the tier's pending count (engine.gauges). None when no tier has
    an SLA.

    Most of a long backlog is overdue, so this counts the other side: filing times never decrease along the
    log (the appender stamps under the chain lock), so the decisions filed since the earliest cutoff are a
    tail of `ix_decisions_open` in filing order, from the first one filed at or after it (a seek on
    `ix_decisions_created_at`, the smallest seq among equal times). The count grows with what was filed
    within an SLA, not with the open decisions of the whole history. SQLite is told the index (`INDEXED
    BY`): left to itself it seeks (status, filed_seq) for each open status and reads every row it finds."""
    if not cutoffs:
        return None
    terms = " OR ".join(f"(tier = :tier_{i} AND created_at >= :cutoff_{i})" for i in range(len(cutoffs)))
    hint = " INDEXED BY ix_decisions_open" if dialect == "sqlite" else ""
    params = [bindparam("earliest", min(cutoffs.values()), type_=_decisions.c.created_at.type)]
    for i, (tier, cutoff) in enumerate(sorted(cutoffs.items())):
        params += [bindparam(f"tier_{i}", tier), bindparam(f"cutoff_{i}", cutoff, type_=_decisions.c.created_at.type)]
    first = (
        "SELECT min(filed_seq) FROM decisions WHERE created_at = "
        "(SELECT min(created_at) FROM decisions WHERE created_at >= :earliest)"
    )
    return text(
        f"SELECT tier, count(*) FROM decisions{hint} WHERE {OPEN_STATUSES_SQL} AND filed_seq >= ({first})"
        f" AND ({terms}) GROUP BY tier"
    ).bindparams(*params)


def waiting_counts(cutoffs: dict[int, datetime], end: datetime, before_seq: int | None, dialect: str) -> TextClause:
    """(how many, how many overdue) of the decisions open and filed before `end`, and with `before_seq`
    only those whose last event came before it: one pass over `ix_decisions_open` (see within_sla_query)."""
    terms = " OR ".join(f"(tier = :tier_{i} AND created_at < :cutoff_{i})" for i in range(len(cutoffs))) or "1 = 0"
    hint = " INDEXED BY ix_decisions_open" if dialect == "sqlite" else ""
    unchanged = "" if before_seq is None else " AND last_seq < :before_seq"
    params = [bindparam("end", end, type_=_decisions.c.created_at.type)]
    for i, (tier, cutoff) in enumerate(sorted(cutoffs.items())):
        params += [bindparam(f"tier_{i}", tier), bindparam(f"cutoff_{i}", cutoff, type_=_decisions.c.created_at.type)]
    if before_seq is not None:
        params.append(bindparam("before_seq", before_seq))
    return text(
        f"SELECT count(*), COALESCE(SUM(CASE WHEN {terms} THEN 1 ELSE 0 END), 0) FROM decisions{hint}"
        f" WHERE {OPEN_STATUSES_SQL} AND created_at < :end{unchanged}"
    ).bindparams(*params)


def unindexed(column: Any) -> ColumnElement[Any]:
    """`column`, which SQLite must not pick an index for (see _Unindexed)."""
    return _Unindexed(column)


def scope_condition(scope: list[InboxTier], me: str) -> ColumnElement[bool] | None:
    """The SQL form of `inbox_scope`: None when nothing could ever wait on this actor."""
    tier, filed_by, created_at = (_Unindexed(_decisions.c[n]) for n in ("tier", "filed_by", "created_at"))
    terms = []
    for t in scope:
        reasons = []
        if t.sign:
            reasons.append(filed_by != me)  # never their own: the filer never signs off (engine.routing)
        if t.escalated_if_filed_before is not None:
            reasons.append(and_(filed_by != me, created_at < t.escalated_if_filed_before))
        terms.append(and_(tier == t.tier, or_(*reasons)))
    return or_(*terms) if terms else None


#: Each sort as (column, descending) keys; the last is always the unique filed_seq, so pages never overlap.
_SORT_KEYS: dict[str, list[tuple[Any, bool]]] = {
    "newest": [(_decisions.c.filed_seq, True)],
    "oldest": [(_decisions.c.filed_seq, False)],
    "tier": [(_decisions.c.tier, True), (_decisions.c.filed_seq, True)],
    "title": [(_decisions.c.title, False), (_decisions.c.filed_seq, True)],
}
#: The inbox's sorts, likewise. Within a tier the longest wait comes first, as in the default order.
INBOX_SORT_KEYS: dict[str, list[tuple[Any, bool]]] = {
    "oldest": [(_decisions.c.filed_seq, False)],
    "newest": [(_decisions.c.filed_seq, True)],
    "tier": [(_decisions.c.tier, True), (_decisions.c.filed_seq, False)],
}


def _after(keys: list[tuple[Any, bool]], values: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after `values` in the order of `keys` (keyset pagination, mixed directions)."""
    clauses = []
    for i, (column, down) in enumerate(keys):
        equal = [keys[j][0] == values[j] for j in range(i)]
        beyond = column < values[i] if down else column > values[i]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)


def _encode_keyset(sort: str, plain: str, keys: list[tuple[Any, bool]], row: dict[str, Any]) -> str:
    """A cursor naming the last row of a page. The `plain` sort (filing order) keeps the form this
    service has always issued, `s<filed_seq>`; every other names its sort, so it is refused on another."""
    if sort == plain:
        raw = f"s{row['filed_seq']}"
    else:
        raw = "k" + msgspec.json.encode([sort, *(row[c.name] for c, _ in keys)]).decode()
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


_KEY_TYPES: dict[str, type] = {"tier": int, "title": str, "filed_seq": int}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _encode_due(due: datetime | None, seq: int) -> str:
    """A due-order cursor: the last row's due time (epoch microseconds, None past the SLA tiers) and seq."""
    micros = None if due is None else (due - _EPOCH) // timedelta(microseconds=1)
    raw = "k" + msgspec.json.encode(["due", micros, seq]).decode()
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_due(cursor: str) -> list[Any]:
    refused = InvalidInput([FieldError("$.query.cursor", "not a cursor this service issued for this sort")])
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        decoded = msgspec.json.decode(raw[1:]) if raw.startswith("k") else None
    except (ValueError, binascii.Error, UnicodeDecodeError, msgspec.DecodeError) as exc:
        raise refused from exc
    if not isinstance(decoded, list) or len(decoded) != 3 or decoded[0] != "due":
        raise refused
    micros, seq = decoded[1:]
    if type(seq) is not int or not 0 <= seq <= 2**63 - 1:
        raise refused
    if micros is not None and (type(micros) is not int or not 0 <= micros < 253402300800 * 10**6):
        raise refused  # after 9999-12-31: never issued
    return [micros, seq]


def _decode_keyset(sort: str, plain: str, keys: list[tuple[Any, bool]], cursor: str) -> list[Any]:
    """The keyset values of a cursor `_encode_keyset` issued for this `sort`; a 422 naming the cursor if not."""
    refused = InvalidInput([FieldError("$.query.cursor", "not a cursor this service issued for this sort")])
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise refused from exc
    if sort == plain:
        if not raw.startswith("s") or not raw[1:].isdigit():
            raise refused
        values: list[Any] = [int(raw[1:])]
    else:
        try:
            decoded = msgspec.json.decode(raw[1:]) if raw.startswith("k") else None
        except msgspec.DecodeError as exc:
            raise refused from exc
        if not isinstance(decoded, list) or not decoded or decoded[0] != sort:
            raise refused
        values = decoded[1:]
        if len(values) != len(keys) or any(
            type(v) is not _KEY_TYPES[c.name] for v, (c, _) in zip(values, keys, strict=True)
        ):
            raise refused
    if any(isinstance(v, int) and not 0 <= v <= 2**63 - 1 for v in values):
        # BIGINT columns: anything larger was never issued, and PostgreSQL would fail on it
        raise refused
    return values
