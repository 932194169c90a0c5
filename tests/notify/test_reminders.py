"""Reminders at the policy's fractions of the SLA, escalation once overdue: logged once, sent once.

Under freezegun: the service reads the real clock (system_clock), and the test moves time itself.
The default policy: tier 2 has `sla: 3d, remind: [50%, 90%], escalate_to: director`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from freezegun import freeze_time

from engine.errors import Forbidden
from engine.log.audit import audit_database
from engine.log.canonical import format_at
from engine.notify.config import NotifyConfig
from engine.notify.delivery import deliver_due
from engine.runtime import Runtime, open_runtime
from engine.types import FilingRequest, VerdictRequest
from tests.notify.receivers import HttpReceiver, http_receiver
from tests.support import DEFAULT_POLICY

TIER2 = FilingRequest(title="Loosen bound", category="quality_threshold", attributes={"deviation_pct": 3.0})
#: Tomorrow 17:00 UTC: later than anything the log has stamped on the real clock.
START = (datetime.now(UTC) + timedelta(days=1)).replace(hour=17, minute=0, second=0, microsecond=0)
DUE = format_at(START + timedelta(days=3))


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    with http_receiver() as receiver:
        yield receiver


@pytest.fixture
def rt(database_url: str, hook: HttpReceiver, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("DECISIONS_GROUP_COMMIT", "0")  # no committer thread waiting on a frozen clock
    # Opened on the real clock: loading the policy under freezegun would hand its dates over as FakeDate.
    runtime = open_runtime(database_url, str(DEFAULT_POLICY), notify=NotifyConfig(webhook_url=hook.url))
    yield runtime
    runtime.close()


@pytest.fixture
def frozen(rt: Runtime) -> Iterator[Any]:
    # After the runtime's own events: the log's clock never goes backwards.
    freezer = freeze_time(START)
    clock = freezer.start()
    clock.thaw = freezer.stop  # the audit loads policies, whose dates must not be freezegun's FakeDate
    yield clock
    with contextlib.suppress(IndexError, ValueError):
        freezer.stop()  # unless the test thawed it already


def _logged(rt: Runtime, kind: str) -> list[dict]:  # type: ignore[type-arg]
    return [e.data for e in _events(rt) if e.type == kind]


def _events(rt: Runtime) -> list:  # type: ignore[type-arg]
    with rt.service.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM decisions"))]
    return [e for i in ids for e in rt.service.get(i).events]


def test_reminders_fire_at_the_configured_fractions_then_the_decision_escalates(
    rt: Runtime, hook: HttpReceiver, frozen: Any
) -> None:
    people = rt.policies.current.people
    decision = rt.service.file(people["mei"], TIER2).decision
    assert rt.service.sweep_reminders() == 0
    frozen.tick(timedelta(hours=36) - timedelta(seconds=1))  # just short of 50% of 3 days
    assert rt.service.sweep_reminders() == 0
    frozen.tick(timedelta(seconds=2))  # the log stamps events a few microseconds apart when time stands still
    assert rt.service.sweep_reminders() == 1
    assert rt.service.sweep_reminders() == 0  # logged once, however often the sweep runs
    [half] = _logged(rt, "reminder_sent")
    assert half == {"mark": "50%", "recipients": ["priya", "tomas"], "due_at": DUE}
    frozen.tick(timedelta(hours=64.8 - 36))  # 90%
    assert rt.service.sweep_reminders() == 1
    assert [r["mark"] for r in _logged(rt, "reminder_sent")] == ["50%", "90%"]
    # Overdue: the fallback approver of the policy (the director) is told, once.
    frozen.tick(timedelta(hours=72 - 64.8, seconds=1))
    assert rt.service.sweep_reminders() == 1
    assert rt.service.sweep_reminders() == 0
    [escalated] = _logged(rt, "decision_escalated")
    assert escalated["to"] == "director" and escalated["recipients"] == ["dana"]
    assert f"no sign-off by the due time ({DUE})" in escalated["reason"]
    # In the director's inbox, flagged, with the reason...
    [item] = rt.service.inbox(people["dana"]).items
    assert item.decision.id == decision.id and item.overdue and item.escalated
    assert item.escalation == f"overdue since {DUE}: tier 2 (Tech PM sign-off) escalates to director"
    # ...without the power to approve it: that stays with the rules (tier 2: a tech PM).
    with pytest.raises(Forbidden):
        rt.service.decide(people["dana"], decision.id, VerdictRequest(verdict="approve"))
    # The tech PMs' inbox is unchanged: they are not escalated to, they are the approvers.
    assert [i.escalated for i in rt.service.inbox(people["tomas"]).items] == [False]
    report = deliver_due(rt.service.engine, rt.notify, rt.service.clock())
    assert report.failed == 0
    # The replay audit accepts them: each was owed by the policy at its time, and logged once.
    frozen.thaw()
    assert audit_database(rt.service.engine).ok
    kinds = [r["body"]["kind"] for r in hook.requests]
    assert kinds.count("reminder") == 2 and kinds.count("escalated") == 1
    reminders = [r["body"] for r in hook.requests if r["body"]["kind"] == "reminder"]
    assert all(b["recipients"] == ["priya", "tomas"] and b["decision_id"] == decision.id for b in reminders)
    assert next(r["body"] for r in hook.requests if r["body"]["kind"] == "escalated")["recipients"] == ["dana"]


def test_a_decided_or_late_swept_decision_is_not_reminded_twice_or_at_all(rt: Runtime, frozen: Any) -> None:
    people = rt.policies.current.people
    approved = rt.service.file(people["mei"], TIER2).decision
    rt.service.decide(people["tomas"], approved.id, VerdictRequest(verdict="approve"))
    late = rt.service.file(people["mei"], TIER2).decision
    frozen.tick(timedelta(hours=70))  # the sweep was down past both marks: only the latest is sent
    assert rt.service.sweep_reminders() == 1
    [only] = _logged(rt, "reminder_sent")
    assert only["mark"] == "90%"
    assert all(e.decision_id == late.id for e in _events(rt) if e.type == "reminder_sent")
