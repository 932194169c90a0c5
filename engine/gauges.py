"""What `/metrics` says about decisions, read from sources that do not grow with the history.

Filed and per-tier totals, pending and break-glass come from `decision_counts` (a dozen rows kept
by triggers: engine.store.counts); the log's size from its head row; overdue decisions are the pending
ones less those still within their SLA, counted in SQL over the recent tail of the partial index of
open decisions (engine.queries.within_sla_query). The SLA arithmetic is `overdue_cutoffs`, pure.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from engine.queries import within_sla_query
from engine.store.counts import decision_counts
from engine.store.db import read_transaction
from engine.store.tables import LogHead
from engine.types import OPEN_STATUSES
from policy.compiled import Policy

_head = LogHead.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class DecisionGauges:
    filed: int
    by_tier: Counter[int]
    pending: Counter[int]
    overdue: Counter[int]
    break_glass: int
    log_events: int


def overdue_cutoffs(policy: Policy, now: datetime) -> dict[int, datetime]:
    """Per tier with an SLA, the filing time before which an open decision is overdue at `now`
    (`created_at + sla < now`, as the digest and the reminders read it)."""
    return {number: now - tier.sla for number, tier in policy.tiers.items() if tier.sla is not None}


def read_gauges(engine: Engine, policy: Policy, now: datetime) -> DecisionGauges:
    cutoffs = overdue_cutoffs(policy, now)
    query = within_sla_query(cutoffs, engine.dialect.name)
    with read_transaction(engine) as conn:  # one snapshot: the counts and the tail agree
        counts = decision_counts(conn)
        within = Counter({tier: n for tier, n in conn.execute(query)}) if query is not None else Counter()
        size = conn.execute(select(_head.c.size)).scalar()
    by_tier: Counter[int] = Counter()
    pending: Counter[int] = Counter()
    for (tier, status), n in counts.items():
        by_tier[tier] += n
        if status in OPEN_STATUSES:
            pending[tier] += n
    overdue = Counter({tier: pending[tier] - within[tier] for tier in cutoffs if pending[tier] > within[tier]})
    return DecisionGauges(
        filed=sum(by_tier.values()),
        by_tier=by_tier,
        pending=pending,
        overdue=overdue,
        break_glass=sum(n for (_, status), n in counts.items() if status == "proceeded_pending_review"),
        log_events=int(size or 0),
    )
