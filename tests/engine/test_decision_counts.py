"""`decision_counts` equals a GROUP BY over the read model after random histories, on both backends,
through `decisions log rebuild`, and `/metrics` reads the same gauges from it as the full scan did.

The reference is what api/prometheus.py computed before the counts table: a GROUP BY tier over every
decision, every open row fetched and its SLA checked in Python, and a count(*) of the events.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, text

from engine.errors import DomainError
from engine.gauges import DecisionGauges, read_gauges
from engine.log import rebuild
from engine.review.metrics import report_periods, tiers_filed
from engine.runtime import Runtime, open_runtime
from engine.store.counts import day_counts, decision_counts
from engine.store.db import read_transaction, write_transaction
from engine.store.migrate import alembic_config
from engine.store.tables import Decision, Event
from engine.types import OPEN_STATUSES, AmendRequest, CommentRequest
from policy.compiled import Policy
from tests.engine.test_inbox_equivalence import _step
from tests.support import DEFAULT_POLICY, ManualClock

_decisions = Decision.__table__  # type: ignore[attr-defined]
_events = Event.__table__  # type: ignore[attr-defined]


def _grouped(rt: Runtime) -> Counter[tuple[int, str]]:
    with read_transaction(rt.service.engine) as conn:
        rows = conn.execute(select(_decisions.c.tier, _decisions.c.status, func.count()).group_by("tier", "status"))
        return Counter({(tier, status): n for tier, status, n in rows})


def _grouped_days(rt: Runtime) -> Counter[tuple[date, int]]:
    with read_transaction(rt.service.engine) as conn:
        rows = conn.execute(select(_decisions.c.created_at, _decisions.c.tier)).all()
    return Counter((at.astimezone(UTC).date(), tier) for at, tier in rows)


def _held_days(rt: Runtime) -> Counter[tuple[date, int]]:
    with read_transaction(rt.service.engine) as conn:
        return day_counts(conn)


def _filed_between(rt: Runtime, ranges: list[tuple[datetime, datetime]]) -> list[Counter[int]]:
    """What the escalation report counted before decision_days: every (filed at, tier) row, in Python."""
    with read_transaction(rt.service.engine) as conn:
        rows = conn.execute(select(_decisions.c.created_at, _decisions.c.tier)).all()
    return [Counter(tier for at, tier in rows if start <= at < end) for start, end in ranges]


def _held(rt: Runtime) -> Counter[tuple[int, str]]:
    with read_transaction(rt.service.engine) as conn:
        return decision_counts(conn)


def _scanned(rt: Runtime, policy: Policy, now: datetime) -> DecisionGauges:
    """The gauges as the scrape computed them before the counts table (api/prometheus.py before migration 0018)."""
    with read_transaction(rt.service.engine) as conn:
        by_tier = Counter({t: n for t, n in conn.execute(select(_decisions.c.tier, func.count()).group_by("tier"))})
        open_rows = conn.execute(
            select(_decisions.c.tier, _decisions.c.status, _decisions.c.created_at).where(
                _decisions.c.status.in_(OPEN_STATUSES)
            )
        ).all()
        size = conn.execute(select(func.count()).select_from(_events)).scalar_one()
    pending: Counter[int] = Counter()
    overdue: Counter[int] = Counter()
    break_glass = 0
    for tier, status, created_at in open_rows:
        pending[tier] += 1
        sla = policy.tiers[tier].sla if tier in policy.tiers else None
        if sla is not None and created_at + sla < now:
            overdue[tier] += 1
        break_glass += status == "proceeded_pending_review"
    return DecisionGauges(sum(by_tier.values()), by_tier, pending, overdue, break_glass, size)


def _amend_or_comment(rt: Runtime, rng: random.Random, ids: list[str]) -> None:
    """Moves that change a decision's tier (amendments) or only its last event (comments)."""
    if not ids:
        return
    d = rt.service.get(rng.choice(ids))
    filer = rt.policies.current.people[d.filed_by]
    try:
        if rng.random() < 0.5 and d.category in {"pipeline", "quality_threshold"}:
            attributes = {"risk_score": rng.choice([5, 80])} if d.category == "pipeline" else {
                "deviation_pct": rng.choice([1.0, 3.0])}  # fmt: skip
            rt.service.amend(filer, d.id, AmendRequest(attributes=attributes, reason="resized"))
        else:
            rt.service.comment(filer, d.id, CommentRequest(text="noted"))
    except DomainError:
        pass


def test_counts_equal_a_group_by_after_random_histories(database_url: str, tmp_path: Path) -> None:
    clock = ManualClock()
    rt = open_runtime(database_url, str(DEFAULT_POLICY), clock=clock)
    try:
        policy = rt.policies.current
        for seed in (3, 11):
            rng = random.Random(seed)
            ids: list[str] = []
            for _ in range(4):
                for _ in range(30):
                    _step(rt, rng, clock, ids)
                    if rng.random() < 0.2:
                        _amend_or_comment(rt, rng, ids)
                assert _held(rt) == _grouped(rt)
                assert _held_days(rt) == _grouped_days(rt)
                # Old enough for some open decisions to pass their SLA, some not.
                now = clock.advance(hours=rng.choice([1, 30, 100]))
                assert read_gauges(rt.service.engine, policy, now) == _scanned(rt, policy, now)
        held = _held(rt)
        assert sum(n for (_, s), n in held.items() if s in OPEN_STATUSES) > 3, "too little left open to prove much"
        assert len({t for t, _ in held}) == 3
        assert _scanned(rt, policy, clock()).overdue, "nothing overdue: the SLA arithmetic went untested"
        with read_transaction(rt.service.engine) as conn:
            moved = conn.execute(select(func.count()).where(_decisions.c.tier != _decisions.c.base_tier)).scalar()
        assert moved, "no amendment moved a tier: the UPDATE trigger's tier branch went untested"
        assert len({d for d, _ in _held_days(rt)}) > 5, "the history spans too few days to prove much"
        # Periods of every kind in the policy's timezone (local midnights, a DST change), and ranges cut
        # anywhere: whole UTC days from decision_days plus the part-days at the edges, as a count of rows.
        tz = policy.timezone
        today = clock().astimezone(tz).date()
        ranges = [
            (p.start, p.end) for kind in ("week", "month", "quarter") for p in report_periods(policy, kind, today, 8)
        ]
        first = min(d for d, _ in _held_days(rt))
        start = datetime.combine(first, datetime.min.time(), UTC)
        for hours in (0, 5, 31, 49, 170, 700, 2000):
            ranges.append((start + timedelta(hours=hours, minutes=17), clock() - timedelta(hours=hours)))
        ranges.append((start + timedelta(hours=3), start + timedelta(hours=20)))  # inside one UTC day
        assert tiers_filed(rt.service.engine, ranges) == _filed_between(rt, ranges)
        for kind in ("week", "month", "quarter"):
            report = rt.reviews.escalations(kind, 4)
            periods = report_periods(policy, kind, today, 4)
            counts = _filed_between(rt, [(p.start, p.end) for p in periods])
            assert [(p.tier1, p.tier2, p.tier3) for p in report.periods] == [(c[1], c[2], c[3]) for c in counts[1:]]
    finally:
        rt.close()


def test_rebuild_keeps_the_counts_exact_and_check_reports_drift(database_url: str) -> None:
    clock = ManualClock()
    rt = open_runtime(database_url, str(DEFAULT_POLICY), clock=clock)
    try:
        rng = random.Random(5)
        ids: list[str] = []
        for _ in range(60):
            _step(rt, rng, clock, ids)
        before = _held(rt)
        assert before == _grouped(rt) and before
        report = rebuild.apply(rt.service.engine)
        assert report.ok and _held(rt) == before  # deleted row by row, inserted row by row, counted again
        assert _held_days(rt) == _grouped_days(rt)
        assert rebuild.compare(rt.service.engine).ok
        # A table a trigger-less load left wrong: `rebuild --check` names it, `--apply` mends it.
        with write_transaction(rt.service.engine) as conn:
            conn.execute(text("UPDATE decision_counts SET n = n + 7 WHERE tier = 1"))
        drift = rebuild.compare(rt.service.engine)
        assert not drift.ok and drift.counts and all(k.startswith("1/") for k in drift.counts)
        rebuild.apply(rt.service.engine)
        assert _held(rt) == _grouped(rt) and rebuild.compare(rt.service.engine).ok
        with write_transaction(rt.service.engine) as conn:
            conn.execute(text("UPDATE decision_days SET n = n + 2 WHERE tier = 3"))
        drift = rebuild.compare(rt.service.engine)
        assert not drift.ok and all(k.endswith("/3") and k[:4].isdigit() for k in drift.counts), drift.counts
        rebuild.apply(rt.service.engine)
        assert _held_days(rt) == _grouped_days(rt) and rebuild.compare(rt.service.engine).ok
    finally:
        rt.close()


def test_the_migration_counts_the_decisions_already_there(database_url: str) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

    clock = ManualClock()
    rt = open_runtime(database_url, str(DEFAULT_POLICY), clock=clock)
    try:
        rng = random.Random(8)
        ids: list[str] = []
        for _ in range(40):
            _step(rt, rng, clock, ids)
        config = alembic_config(database_url)
        before = ScriptDirectory.from_config(config).get_revision("0018_decision_counts").down_revision
        rt.service.engine.dispose()
        command.downgrade(config, str(before))  # no table, no triggers
        command.upgrade(config, "head")  # created and back-filled from the decisions
        assert _held(rt) == _grouped(rt) and _held(rt)
        assert _held_days(rt) == _grouped_days(rt) and _held_days(rt)
        _step(rt, rng, clock, ids)  # and kept from then on
        assert _held(rt) == _grouped(rt) and _held_days(rt) == _grouped_days(rt)
    finally:
        rt.close()
