"""Query plans of the read paths on a history big enough for the planners' choice to mean something.

Every filter of the list walks an index in filing order (no sort of every matching row: SQLite's
`USE TEMP B-TREE`, PostgreSQL's Sort node), on page 1 and deep pages alike; the inbox walks a
partial index of open decisions in each of its orders. The plans are read for the very statements the service runs
(engine.queries.list_query / inbox_query). Rows are written straight into the read model: plans
depend on the data's shape, not on how it got there.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import ClauseElement, Connection, Engine, Executable, insert
from sqlalchemy.ext.compiler import compiles

from engine.gauges import overdue_cutoffs
from engine.lifecycle import inbox_scope
from engine.queries import (
    inbox_query,
    inbox_segments,
    list_query,
    scope_condition,
    waiting_counts,
    within_sla_query,
)
from engine.review.metrics import tiers_filed_query
from engine.review.source import bare_break_glass_query, break_glass_query, changed_since_query, waiting_query
from engine.runtime import upgrade_database
from engine.store.db import create_db_engine
from engine.store.tables import Decision
from engine.types import DecisionFilter, InboxSort
from policy import load_policy
from tests.conftest import BACKENDS
from tests.support import DEFAULT_POLICY, database_url_for

_decisions = Decision.__table__  # type: ignore[attr-defined]
ROWS = 40_000
FILERS = [("mei", "nucleus"), ("jon", "nucleus"), ("sofia", "nucleus"), ("ravi", "atlas"), ("lena", "atlas"),
          ("omar", "atlas")]  # fmt: skip
CATEGORIES = [("quality_threshold", 1), ("pipeline", 1), ("reporting_format", 1), ("domain", 1),
              ("annotator_tier", 2), ("contract", 3), ("client_onboarding", 3), ("benchmark", 3)]  # fmt: skip
START = datetime(2020, 1, 6, tzinfo=UTC)


class Explain(Executable, ClauseElement):
    """`EXPLAIN <statement>` with the statement's own bound parameters."""

    inherit_cache = False

    def __init__(self, statement: Any, prefix: str) -> None:
        self.statement = statement
        self.prefix = prefix


@compiles(Explain)
def _explain(element: Explain, compiler: Any, **kw: Any) -> str:
    return f"{element.prefix} {compiler.process(element.statement, **kw)}"


def _history(conn: Connection) -> None:
    rng = random.Random(5)
    rows = []
    for i in range(ROWS):
        filer, squad = FILERS[rng.randrange(len(FILERS))]
        category, tier = CATEGORIES[rng.randrange(len(CATEGORIES))]
        at = START + timedelta(minutes=5 * i)
        status = "resolved" if tier == 1 else ("pending" if i > ROWS - 400 or rng.random() < 0.01 else "approved")
        rows.append(
            {"id": f"D{i:026d}", "filed_seq": 2 * i + 1, "last_seq": 2 * i + 2, "title": f"decision {i}",
             "category": category, "attributes": {}, "rationale": None, "client": None, "links": [],
             "filed_by": filer, "squad": squad, "tier": tier, "base_tier": tier, "status": status,
             "route": {"tier": tier, "role": None, "count": 0, "exclude_filer": True, "approvers": []},
             "matched_rules": [], "known_category": True, "approvals": [], "policy_version": "v",
             "created_at": at, "updated_at": at, "decided_at": None if status == "pending" else at,
             "supersedes": None, "superseded_by": None, "break_glass_reason": None, "amendments": 0}
        )  # fmt: skip
    for chunk in range(0, ROWS, 5000):
        conn.execute(insert(_decisions), rows[chunk : chunk + 5000])
    conn.exec_driver_sql("ANALYZE")


@pytest.fixture(scope="module", params=BACKENDS)
def history(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One generated history per backend for the whole module (writing it is most of the cost)."""
    with database_url_for(str(request.param), tmp_path_factory.mktemp("plans")) as url:
        upgrade_database(url)
        engine: Engine = create_db_engine(url)
        with engine.begin() as conn:
            _history(conn)
        if engine.dialect.name == "postgresql":
            # As autovacuum leaves a table: the visibility map set, so an index can answer a count alone.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE decisions")
        yield engine
        engine.dispose()


def _plan(engine: Engine, statement: Any) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(Explain(statement, "EXPLAIN QUERY PLAN")).all()
            return "\n".join(str(r[-1]) for r in rows)
        return "\n".join(r[0] for r in conn.execute(Explain(statement, "EXPLAIN")).all())


def _walks_in_order(engine: Engine, plan: str, index: str | None = None) -> None:
    if engine.dialect.name == "sqlite":
        assert "USE TEMP B-TREE" not in plan, plan
        assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan
    else:
        assert "Sort" not in plan, plan
        assert "Index Scan" in plan or "Index Only Scan" in plan, plan
    if index is not None:
        assert index in plan, plan


FILTERS = [
    ("category", "contract"),
    ("category", "benchmark"),
    ("filed_by", "jon"),
    ("squad", "atlas"),
    ("status", "pending"),
    ("status", "approved"),
    ("tier", 2),
]


@pytest.mark.parametrize(("column", "value"), FILTERS, ids=[f"{c}={v}" for c, v in FILTERS])
def test_every_list_filter_walks_filed_seq_in_order(history: Engine, column: str, value: Any) -> None:
    filters = DecisionFilter(**{column: value})
    page_1 = _plan(history, list_query(filters, None, 51))
    # Page 50 of 50: the cursor is a filed_seq deep in the history.
    page_50 = _plan(history, list_query(filters, 2 * (ROWS - 50 * 50 * 8) + 1, 51))
    for plan in (page_1, page_50):
        _walks_in_order(history, plan)
    if history.dialect.name == "sqlite":
        assert f"ix_decisions_{column}_seq" in page_1, page_1


def test_two_filters_still_walk_in_order(history: Engine) -> None:
    plan = _plan(history, list_query(DecisionFilter(category="contract", filed_by="jon", squad="nucleus"), None, 51))
    _walks_in_order(history, plan)


#: Each inbox sort, the keyset values of a cursor deep into the open decisions, and the index SQLite walks
#: (PostgreSQL may take either partial index: for a tech PM's one tier it reads the tier index, already in
#: filing order; what it must never do is sort).
INBOX_SORTS = [
    ("oldest", [2 * (ROWS - 300)], "ix_decisions_open"),
    ("newest", [2 * (ROWS - 300)], "ix_decisions_open"),
    ("tier", [2, 2 * (ROWS - 300)], "ix_decisions_open_tier"),
    # Due: epoch microseconds of a due time deep into the open decisions, then a filing seq.
    (
        "due",
        [int((START + timedelta(minutes=5 * (ROWS - 300), days=3)).timestamp() * 10**6), 2 * (ROWS - 300)],
        "ix_decisions_open_tier",
    ),
]


@pytest.mark.parametrize(("sort", "deep", "index"), INBOX_SORTS, ids=[s for s, _, _ in INBOX_SORTS])
@pytest.mark.parametrize("who", ["tomas", "dana"])
def test_the_inbox_walks_the_open_decisions_only(
    history: Engine, who: str, sort: InboxSort, deep: list[int], index: str
) -> None:
    policy = load_policy(str(DEFAULT_POLICY))
    actor = policy.people[who]
    scope = inbox_scope(policy, actor, [], START + timedelta(days=400))
    for after in (None, deep):
        segments = inbox_segments(scope, actor.name, sort, after, {n: t.sla for n, t in policy.tiers.items()})
        assert segments
        for segment in segments:
            plan = _plan(history, inbox_query(segment, segment.after_seq, 51))
            _walks_in_order(history, plan, index if history.dialect.name == "sqlite" else None)
            if history.dialect.name == "sqlite" and index == "ix_decisions_open":
                assert "ix_decisions_open_tier" not in plan, plan


def test_the_tier_order_walks_each_tier_highest_first_from_the_cursor() -> None:
    policy = load_policy(str(DEFAULT_POLICY))
    scope = inbox_scope(policy, policy.people["dana"], [], START + timedelta(days=400))
    assert [(s.tier, s.after_seq) for s in inbox_segments(scope, "dana", "tier", None)] == [(3, None), (2, None)]
    assert [(s.tier, s.after_seq) for s in inbox_segments(scope, "dana", "tier", [2, 41])] == [(2, 41)]
    assert [(s.tier, s.after_seq) for s in inbox_segments(scope, "dana", "tier", [3, 7])] == [(3, 7), (2, None)]
    assert inbox_segments([], "mei", "tier", None) == [] == inbox_segments([], "mei", "newest", None)


def test_nothing_can_wait_on_a_squad_member_so_the_inbox_asks_nothing() -> None:
    policy = load_policy(str(DEFAULT_POLICY))
    assert scope_condition(inbox_scope(policy, policy.people["mei"], [], START), "mei") is None


def test_metrics_count_what_is_within_its_sla_off_the_tail_of_the_open_index(history: Engine) -> None:
    policy = load_policy(str(DEFAULT_POLICY))
    # The history spans 139 days: a week from its end, the SLAs reach back into it.
    statement = within_sla_query(overdue_cutoffs(policy, START + timedelta(days=132)), history.dialect.name)
    assert statement is not None
    plan = _plan(history, statement)
    if history.dialect.name == "sqlite":
        # A range of the open index from a seq, not every open decision.
        assert re.search(r"SEARCH decisions USING (COVERING )?INDEX ix_decisions_open \(filed_seq>\?\)", plan), plan
    else:
        # A range off the open index (from the seq) or the filing-time index (from the cutoff), as the
        # statistics of the moment make cheaper: either reads what was filed within an SLA, never the table.
        assert "Seq Scan" not in plan, plan
        assert re.search(r"ix_decisions_open\S* on decisions\s+\(.*\n.*Index Cond: \(filed_seq >=", plan) or (
            "ix_decisions_created" in plan
        ), plan


def _covering(engine: Engine, plan: str, index: str) -> None:
    """Read off `index` alone on SQLite: no table row fetched. PostgreSQL answers from the index alone only
    where VACUUM could mark the pages all-visible, which a long transaction anywhere on the server prevents:
    there a range of an index on `created_at` (this one, or the plain one), never the whole table."""
    if engine.dialect.name == "sqlite":
        assert index in plan and "USING COVERING INDEX" in plan, plan
    else:
        assert "Seq Scan" not in plan and "ix_decisions_created" in plan, plan


@pytest.mark.parametrize("unamended", [False, True], ids=["escalations", "digest-trend"])
def test_filings_per_period_and_tier_are_counted_off_one_index(history: Engine, unamended: bool) -> None:
    quarter = tiers_filed_query(START + timedelta(days=30), START + timedelta(days=120), unamended)
    _covering(history, _plan(history, quarter), "ix_decisions_created_tier")


@pytest.mark.parametrize("closed", [False, True], ids=["open-window", "closed-window"])
def test_a_digest_reads_what_waits_off_the_open_decisions(history: Engine, closed: bool) -> None:
    end = START + timedelta(days=130)
    before_seq = 2 * ROWS - 100 if closed else None
    policy = load_policy(str(DEFAULT_POLICY))
    counts = waiting_counts(overdue_cutoffs(policy, end), end, before_seq, history.dialect.name)
    assert "ix_decisions_open" in _plan(history, counts)
    _walks_in_order(history, _plan(history, waiting_query(end, before_seq).limit(100)), "ix_decisions_open")
    assert "ix_decisions_break_glass" in _plan(history, break_glass_query(end, before_seq, history.dialect.name))
    bare = _plan(history, bare_break_glass_query(end, before_seq))
    assert "ix_decisions_status_seq" in bare and "ix_decisions_open" not in bare, bare


def test_a_closed_window_finds_what_changed_since_off_small_indexes(history: Engine) -> None:
    start, end = START + timedelta(days=100), START + timedelta(days=107)
    plan = _plan(history, changed_since_query(start, end, 2 * ROWS, history.dialect.name))
    if history.dialect.name == "sqlite":
        # Never `created_at < end` alone (every decision filed before the window), never a row per open one.
        assert "ix_decisions_decided_at" in plan and "ix_decisions_open" in plan, plan
        assert "(created_at<?)" not in plan and "ix_decisions_status_seq" not in plan, plan
    else:
        assert "Seq Scan" not in plan, plan
