"""The effect report's reads and the baseline import's write (the I/O around engine.effect.measures)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import Connection, func, insert, select

from engine import lifecycle
from engine.effect.baseline import BaselineItem, digest
from engine.effect.measures import BaselineSummary, DecidedItem, EffectReport, effect_report, summarise_baseline
from engine.log.appender import NewEvent
from engine.review.windows import period_before, period_for_date
from engine.store.baseline_tables import BaselineRow
from engine.store.db import read_transaction
from engine.store.tables import Decision, Event
from engine.types import OPEN_STATUSES
from policy.compiled import Person, Policy
from policy.identity import with_authority

_decisions = Decision.__table__  # type: ignore[attr-defined]
_events = Event.__table__  # type: ignore[attr-defined]
_baseline = BaselineRow.__table__  # type: ignore[attr-defined]


class Effect:
    def __init__(self, service: Any, policies: Any, clock: Callable[[], datetime]) -> None:
        self.service = service
        self.engine = service.engine
        self.policies = policies
        self.clock = clock

    # -- the baseline -------------------------------------------------------------------------------

    def import_baseline(self, actor: Person, items: Sequence[BaselineItem], source: str) -> int:
        """Store the rows and log their digest in one transaction; returns the event's seq."""
        command = lifecycle.RecordBaseline(
            digest=digest(list(items)),
            rows=len(items),
            first_day=min(i.day for i in items).isoformat() if items else "",
            last_day=max(i.day for i in items).isoformat() if items else "",
            source=source[:300],
        )
        policy = self.policies.current
        lifecycle.decide(command, actor, lifecycle.Authority(policy, self.clock()))  # refuse before the lock

        def work(conn: Connection) -> int:
            authority = lifecycle.Authority(self.policies.current, self.service.writer.now())
            outcome = lifecycle.decide(command, actor, authority)
            [planned] = outcome.events
            [event] = self.service.writer.append(
                conn,
                [NewEvent(planned.type, planned.actor, None, with_authority(actor, planned.data))],
                at=authority.now,
            )
            conn.execute(
                insert(_baseline),
                [
                    {
                        "import_seq": event.seq,
                        "line": i.line,
                        "day": i.day,
                        "kind": i.kind,
                        "decided_by": i.decided_by,
                        "tier": i.tier,
                        "waited_days": i.waited_days,
                    }
                    for i in items
                ],
            )
            return event.seq

        seq: int = self.service.writer.write(work)
        return seq

    def baseline(self, policy: Policy | None = None) -> BaselineSummary | None:
        """The latest import, limited to the policy's baseline window when rows fall in it."""
        policy = policy or self.policies.current
        with read_transaction(self.engine) as conn:
            latest = conn.execute(select(func.max(_baseline.c.import_seq))).scalar()
            if latest is None:
                return None
            rows = conn.execute(
                select(
                    _baseline.c.line,
                    _baseline.c.day,
                    _baseline.c.kind,
                    _baseline.c.decided_by,
                    _baseline.c.tier,
                    _baseline.c.waited_days,
                ).where(_baseline.c.import_seq == latest)
            ).all()
            body = conn.execute(select(_events.c.body).where(_events.c.seq == latest)).scalar()
        items = [BaselineItem(r.line, _as_date(r.day), r.kind, r.decided_by, r.tier, r.waited_days) for r in rows]
        window = policy.baseline
        if window is not None:
            inside = [i for i in items if window[0] <= i.day <= window[1]]
            items = inside or items
        logged = msgspec.json.decode(body)["data"]["digest"] if body else None
        return summarise_baseline(items, import_seq=latest, digest=logged)

    def open_count(self) -> int:
        with read_transaction(self.engine) as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(_decisions).where(_decisions.c.status.in_(sorted(OPEN_STATUSES)))
                ).scalar_one()
            )

    # -- the report ---------------------------------------------------------------------------------

    def report(self, kind: str, count: int = 4, now: datetime | None = None) -> EffectReport:
        policy = self.policies.current
        now = now or self.clock()
        tz = policy.timezone
        first = period_for_date(kind, tz, now.astimezone(tz).date())
        for _ in range(count):
            first = period_before(first, tz)
        with read_transaction(self.engine) as conn:
            rows = conn.execute(
                select(_decisions.c.created_at, _decisions.c.decided_at, _decisions.c.tier, _decisions.c.status).where(
                    _decisions.c.created_at >= first.start, _decisions.c.created_at < now + timedelta(days=1)
                )
            ).all()
            adopted_at = conn.execute(select(func.min(_decisions.c.created_at))).scalar()
        items = [DecidedItem(r.created_at, r.decided_at, r.tier, r.status) for r in rows]
        return effect_report(policy, kind, now, count, items, self.baseline(policy), adopted_at or now)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
