"""Digests read from the read model equal the digests replayed from the log, and cap what waits.

The reference here is how digests were built before: every decision filed in the window or open at
its end replayed from its events before the end, every waiting one listed and flagged in Python.
The service now reads decisions unchanged since the window's end from the read model (all of them,
for a window still open), replays only the ones changed since, and counts what waits in SQL. Random
histories over several weeks, on both backends, every weekly and bi-weekly window of them, closed
and open; then a backlog above the cap.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import select

from engine.read_model import fold
from engine.review.digest import PENDING_CAP, Digest, digest_decision
from engine.review.render import render_digest
from engine.runtime import Runtime, open_runtime
from engine.store.db import read_transaction
from engine.store.tables import Decision, Event
from engine.types import OPEN_STATUSES, FilingRequest, VerdictRequest
from policy.compiled import Policy
from tests.engine.test_decision_counts import _amend_or_comment
from tests.engine.test_inbox_equivalence import _step
from tests.support import DEFAULT_POLICY, ManualClock

_decisions = Decision.__table__  # type: ignore[attr-defined]
_events = Event.__table__  # type: ignore[attr-defined]


def _replayed_states(rt: Runtime, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Decisions filed in [start, end) or open at `end`, each the fold of its events before `end`."""
    with read_transaction(rt.service.engine) as conn:
        events = conn.execute(select(_events.c.decision_id, _events.c.body).where(_events.c.at < end)
                              .order_by(_events.c.seq)).all()  # fmt: skip
    states: dict[str, dict[str, Any]] = {}
    for decision_id, body in events:
        if decision_id is not None:
            state = fold(states.get(decision_id), msgspec.json.decode(body))
            if state is not None:
                states[decision_id] = state
    return sorted(
        (s for s in states.values() if s["created_at"] >= start or s["status"] in OPEN_STATUSES),
        key=lambda s: s["filed_seq"],
    )


def _expected(policy: Policy, d: Digest, states: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What the digest showed of these states before (engine.review.digest.build_digest until the cap)."""
    in_window = [s for s in states if d.starts_at <= s["created_at"] < d.ends_at]
    views = {s["id"]: digest_decision(policy, s, d.as_of) for s in states}
    pending = [views[s["id"]] for s in states if s["status"] in OPEN_STATUSES]
    by_tier = {str(t): sum(1 for s in in_window if s["tier"] == t) for t in sorted(policy.tiers)}
    return msgspec.to_builtins(
        {
            "filed": len(in_window),
            "by_tier": by_tier,
            "sections": [[views[s["id"]] for s in in_window if s["tier"] == t] for t in sorted(policy.tiers)],
            "pending": pending,
            "pending_more": 0,
            "overdue": sum(1 for p in pending if p.overdue),
            "break_glass": [p for p in pending if p.break_glass],
        }
    )


def _shown(d: Digest) -> dict[str, Any]:
    return msgspec.to_builtins(
        {
            "filed": d.filed,
            "by_tier": d.by_tier,
            "sections": [s.decisions for s in d.sections],
            "pending": d.pending,
            "pending_more": d.pending_more,
            "overdue": d.overdue,
            "break_glass": d.break_glass,
        }
    )


def _changed_since(rt: Runtime, d: Digest) -> int:
    """How many of the decisions this digest shows have events after its end (so were replayed)."""
    ids = [x.id for s in d.sections for x in s.decisions] + [x.id for x in d.pending]
    if not ids:
        return 0
    with read_transaction(rt.service.engine) as conn:
        rows = conn.execute(select(_decisions.c.last_seq).where(_decisions.c.id.in_(ids))).scalars().all()
    return sum(1 for last in rows if last >= d.log.size)


def test_digests_equal_the_replay_for_every_window_of_random_histories(database_url: str) -> None:
    clock = ManualClock(datetime.fromisoformat("2026-02-27T12:00:00+00:00"))
    rt = open_runtime(database_url, str(DEFAULT_POLICY), clock=clock)
    try:
        rng = random.Random(23)
        ids: list[str] = []
        first = clock().date()
        for _ in range(260):
            _step(rt, rng, clock, ids)
            if rng.random() < 0.15:
                _amend_or_comment(rt, rng, ids)
        policy = rt.policies.current
        replayed = 0
        windows = 0
        day = first
        while day <= clock().date() + timedelta(days=7):
            for kind in ("weekly", "biweekly"):
                d = rt.reviews.digest(kind, day)
                assert _shown(d) == _expected(policy, d, _replayed_states(rt, d.starts_at, d.ends_at)), (kind, day)
                replayed += _changed_since(rt, d) if d.closed else 0
                windows += 1
            day += timedelta(days=7)
        assert windows >= 8
        assert replayed > 5, "no closed window showed a decision changed since: the replay path went untested"
        current = rt.reviews.digest("weekly")
        assert not current.closed and current.pending, "the open window (all from the read model) went untested"
    finally:
        rt.close()


def test_the_pending_list_is_capped_with_a_count_of_the_rest(database_url: str) -> None:
    clock = ManualClock(datetime.fromisoformat("2026-03-02T09:00:00+00:00"))
    rt = open_runtime(database_url, str(DEFAULT_POLICY), clock=clock)
    try:
        people = rt.policies.current.people
        filed = []
        for i in range(PENDING_CAP + 30):
            request = FilingRequest(title=f"sampler {i}", category="pipeline", attributes={"risk_score": 80})
            filed.append(rt.service.file(people[("mei", "ravi")[i % 2]], request).decision.id)
            clock.advance(minutes=20)
        clock.advance(days=3)  # past the tier-2 SLA for all of them, within the window
        d = rt.reviews.digest("weekly", date(2026, 3, 4))
        assert not d.closed
        assert [x.id for x in d.pending] == filed[:PENDING_CAP]  # the oldest first
        assert d.pending_more == 30
        assert d.overdue == len(filed)  # counted over all of them, not only the ones listed
        tier2 = next(s for s in d.sections if s.tier == 2)
        assert len(tier2.decisions) == len(filed)  # the window's own filings are all listed
        # The week after: all of them wait from an earlier window; 100 listed, the rest counted.
        clock.advance(days=7)
        # Two of the oldest are signed after that week closes: replayed as they stood, still waiting then.
        rt.service.decide(people["tomas"], filed[0], VerdictRequest(verdict="approve"))
        rt.service.decide(people["priya"], filed[1], VerdictRequest(verdict="approve"))
        d = rt.reviews.digest("weekly", date(2026, 3, 4))
        assert d.closed and [x.id for x in d.pending] == filed[:PENDING_CAP] and d.pending_more == 30
        later = rt.reviews.digest("weekly", date(2026, 3, 11))
        assert [x.id for x in later.pending] == filed[2 : PENDING_CAP + 2] and later.pending_more == 28
        markdown = render_digest(later, "md").decode()
        assert "- Pending: 128," in markdown
        assert "128 filed before this window." in markdown
        assert "And 28 more, the oldest first: the digest lists 100 of them." in markdown
        html = render_digest(later, "html").decode()
        assert "And 28 more, the oldest first: the digest lists 100 of them." in html
        assert '<span class="num">128</span><br>waiting' in html
        assert msgspec.json.decode(render_digest(later, "json"))["pending_more"] == 28
    finally:
        rt.close()
