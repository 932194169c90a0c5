"""Notifications: written with the event, delivered by a real local HTTP and SMTP receiver, never lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.notify.config import NotifyConfig
from engine.notify.delivery import deliver_due
from engine.notify.outbox import enqueue_overdue
from engine.runtime import Runtime, open_runtime
from engine.types import AmendRequest, FilingRequest, ProceedRequest, VerdictRequest
from tests.notify.receivers import closed_port_url, http_receiver, smtp_receiver
from tests.support import DEFAULT_POLICY, REPO, ManualClock

TIER2 = FilingRequest(title="Loosen bound", category="quality_threshold", attributes={"deviation_pct": 3.0})


@pytest.fixture
def open_with(database_url: str, clock: ManualClock) -> Iterator:  # type: ignore[type-arg]
    opened: list[Runtime] = []

    def make(config: NotifyConfig) -> Runtime:
        rt = open_runtime(database_url, str(DEFAULT_POLICY), clock=clock, notify=config)
        opened.append(rt)
        return rt

    yield make
    for rt in opened:
        rt.close()


def _outbox(rt: Runtime) -> list[dict]:  # type: ignore[type-arg]
    with rt.service.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text("SELECT * FROM outbox ORDER BY id")).mappings()]


def test_routing_reaches_each_approver_on_every_channel(open_with, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    with http_receiver() as hook, http_receiver() as slack, smtp_receiver() as smtp:
        rt = open_with(
            NotifyConfig(webhook_url=hook.url, slack_url=slack.url, smtp_host="127.0.0.1", smtp_port=smtp.port)
        )
        d = rt.service.file(rt.policies.current.people["mei"], TIER2).decision
        report = deliver_due(rt.service.engine, rt.notify, clock())
        # One message per channel that is one place (webhook, Slack), one e-mail per tech PM.
        assert report.delivered == 4 and report.failed == 0
        assert [r["body"]["recipients"] for r in hook.requests] == [["priya", "tomas"]]
        assert len(slack.requests) == 1
        assert all(r["body"]["decision_id"] == d.id and r["body"]["kind"] == "routed" for r in hook.requests)
        assert all("blocks" in r["body"] and d.id in r["body"]["text"] for r in slack.requests)
        assert sorted(m["to"] for m in smtp.messages) == ["priya@example.com", "tomas@example.com"]
        # The approval notifies the filer.
        rt.service.decide(rt.policies.current.people["tomas"], d.id, VerdictRequest(verdict="approve"))
        deliver_due(rt.service.engine, rt.notify, clock())
        assert [m["to"] for m in smtp.messages][-1] == "mei@example.com"
        assert hook.requests[-1]["body"]["kind"] == "approved"


def test_break_glass_and_reroutes_reach_the_approvers(open_with, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    with http_receiver() as hook:
        rt = open_with(NotifyConfig(webhook_url=hook.url))
        people = rt.policies.current.people
        d = rt.service.file(people["mei"], TIER2).decision
        rt.service.proceed(people["mei"], d.id, ProceedRequest(reason="the client ships tonight"))
        deliver_due(rt.service.engine, rt.notify, clock())
        broke = [r["body"] for r in hook.requests if r["body"]["kind"] == "break_glass"]
        assert [b["recipients"] for b in broke] == [["priya", "tomas"]]
        assert all(b["status"] == "proceeded_pending_review" and "break-glass" in b["text"] for b in broke)
        # An amendment that moves a decision to the director notifies the director, not the old route.
        c = rt.service.file(people["mei"], TIER2).decision
        rt.service.amend(people["mei"], c.id, AmendRequest(attributes={"deviation_pct": 3.0, "affected_clients": 2}))
        rt.service.amend(
            people["mei"],
            c.id,
            AmendRequest(title="now a contract matter", attributes={"deviation_pct": 30.0, "affected_clients": 9}),
        )
        deliver_due(rt.service.engine, rt.notify, clock())
        rerouted = [r["body"] for r in hook.requests if r["body"]["kind"] == "rerouted"]
        assert rerouted and all(b["decision_id"] == c.id for b in rerouted)


def test_receiver_down_then_up_delivers_exactly_once(open_with, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    down = NotifyConfig(webhook_url=closed_port_url())
    rt = open_with(down)
    mei = rt.policies.current.people["mei"]
    for _ in range(3):
        rt.service.file(mei, TIER2)  # filing never waits on, or fails because of, a receiver
    first = deliver_due(rt.service.engine, down, clock())
    assert first.delivered == 0 and first.failed == 3  # one webhook message per filing
    assert all(r["attempts"] == 1 and r["last_error"] for r in _outbox(rt))
    # Not yet due again: back-off holds them.
    assert deliver_due(rt.service.engine, down, clock()).failed == 0
    with http_receiver() as hook:
        up = NotifyConfig(webhook_url=hook.url)
        for _ in range(20):
            clock.advance(minutes=5)
            deliver_due(rt.service.engine, up, clock())
        assert len(hook.requests) == 3 and len(set(hook.keys)) == 3
        assert len({r["body"]["decision_id"] for r in hook.requests}) == 3
    assert all(r["delivered_at"] is not None for r in _outbox(rt))


def test_a_flaky_receiver_gets_everything_after_retries(open_with, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    with http_receiver(fail_first=3) as hook:
        rt = open_with(NotifyConfig(webhook_url=hook.url))
        rt.service.file(
            rt.policies.current.people["jon"],
            FilingRequest(
                title="x", category="annotator_tier", attributes={"annotator": "a1", "from_tier": "a", "to_tier": "b"}
            ),
        )
        # One message (naming both tech PMs): it fails three times, then gets through.
        for _ in range(6):
            deliver_due(rt.service.engine, rt.notify, clock())
            clock.advance(minutes=2)
        rows = _outbox(rt)
        assert all(r["delivered_at"] is not None for r in rows)
        assert [r["attempts"] for r in rows] == [4]
        assert len(set(hook.keys)) == 1


def test_overdue_is_notified_once(open_with, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    with http_receiver() as hook:
        rt = open_with(NotifyConfig(webhook_url=hook.url))
        rt.service.file(rt.policies.current.people["mei"], TIER2)
        assert enqueue_overdue(rt.service.engine, rt.policies.current, rt.notify, clock()) == 0
        clock.advance(days=3, seconds=1)
        assert enqueue_overdue(rt.service.engine, rt.policies.current, rt.notify, clock()) == 1
        enqueue_overdue(rt.service.engine, rt.policies.current, rt.notify, clock() + timedelta(hours=1))
        deliver_due(rt.service.engine, rt.notify, clock())
        overdue = [r for r in hook.requests if r["body"]["kind"] == "overdue"]
        assert len(overdue) == 1 and overdue[0]["body"]["recipients"] == ["priya", "tomas"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_dispatcher_killed_mid_delivery_loses_nothing(database_url: str, tmp_path: Path) -> None:
    with http_receiver() as hook:
        config = NotifyConfig(webhook_url=hook.url)
        rt = open_runtime(database_url, str(DEFAULT_POLICY), notify=config)
        try:
            for i in range(10):
                rt.service.file(
                    rt.policies.current.people["mei"],
                    FilingRequest(title=f"d{i}", category="pipeline", attributes={"risk_score": 90}),
                )
        finally:
            rt.close()
        # A slow sender in a child process: it sends a few, then is killed with SIGKILL.
        script = textwrap.dedent(f"""
            import time
            from datetime import UTC, datetime
            from engine.notify.config import NotifyConfig
            from engine.notify import delivery
            from engine.store.db import create_db_engine
            real = delivery._send
            def slow(row, config):
                real(row, config)
                time.sleep(0.3)
            engine = create_db_engine({database_url!r})
            delivery.deliver_due(engine, NotifyConfig(webhook_url={hook.url!r}), datetime.now(UTC), sender=slow)
        """)
        child = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
        deadline = time.monotonic() + 20
        while len(hook.requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        sent_before = len(hook.requests)
        assert 3 <= sent_before < 10
        # After the lease expires, a new dispatcher delivers the rest.
        rt = open_runtime(database_url, str(DEFAULT_POLICY), notify=config)
        try:
            later = rt.service.clock() + timedelta(minutes=5)
            deliver_due(rt.service.engine, config, later, batch=100)
            rows = _outbox(rt)
        finally:
            rt.close()
        assert len(rows) == 10 and all(r["delivered_at"] is not None for r in rows)
        # Exactly once per event and channel, by key: a re-send (the one in flight at the kill) reuses its key.
        assert set(hook.keys) == {f"outbox-{r['id']}" for r in rows}
        assert len(hook.requests) - len(set(hook.keys)) <= 1
