"""The reports from the command line: files written, the digest sent through the outbox for cron."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner, Result

from api.cli import main
from engine.runtime import Runtime
from tests.notify.receivers import http_receiver, smtp_receiver
from tests.reports.helpers import at_local, file
from tests.support import DEFAULT_POLICY, ManualClock

Run = Callable[..., Result]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 2, 25, tzinfo=UTC))


@pytest.fixture
def seeded(runtime: Runtime, clock: ManualClock) -> Runtime:
    at_local(clock, "2026-03-03T10:00")
    file(runtime, "mei", "pipeline", {"risk_score": 80}, "dedup stage")
    at_local(clock, "2026-03-08T23:59")  # Sunday night, local: still the week of 2026-03-02
    file(runtime, "lena", "contract", {"change": "scope"}, "Acme scope")
    return runtime


@pytest.fixture
def run(seeded: Runtime, monkeypatch: pytest.MonkeyPatch) -> Run:
    # The CLI opens its own runtime (system clock) on the same database; no channel unless a test sets one.
    for name in ("DECISIONS_WEBHOOK_URL", "DECISIONS_SLACK_URL", "DECISIONS_SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, ["--database-url", seeded.database_url, "--policy", str(DEFAULT_POLICY), *args])

    return invoke


def test_digest_to_a_file_and_to_stdout_say_the_same(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "week.md"
    r = run("digest", "weekly", "--date", "2026-03-08", "--format", "md", "-o", str(out))
    assert r.exit_code == 0, r.output
    printed = run("digest", "weekly", "--date", "2026-03-02", "--format", "md")
    assert printed.exit_code == 0 and printed.stdout == out.read_text()
    assert "Review digest: Weekly operational sync, 2026-03-02 to 2026-03-08" in printed.stdout
    assert "Acme scope" in printed.stdout  # filed 23:59 on the Sunday
    body = msgspec.json.decode(run("digest", "weekly", "--date", "2026-03-02", "--format", "json").stdout)
    assert (body["filed"], body["by_tier"], body["closed"]) == (2, {"1": 0, "2": 1, "3": 1}, True)


def test_metrics_escalations_in_json(run: Run) -> None:
    r = run("metrics", "escalations", "--period", "quarter", "--format", "json")
    assert r.exit_code == 0, r.output
    report: dict[str, Any] = msgspec.json.decode(r.stdout)
    q1 = next(p for p in report["periods"] if p["period"] == "2026-Q1")
    assert (q1["filed"], q1["tier2"], q1["reached_director"], q1["escalation_rate"]) == (2, 1, 1, 1.0)
    assert report["baseline"] == "2026-01-01..2026-03-31" and report["baseline_escalation_rate"] == 1.0


def test_digest_send_needs_a_channel(run: Run) -> None:
    r = run("digest", "send", "weekly", "--date", "2026-03-02")
    assert r.exit_code == 1 and "no notification channel" in r.output


def test_digest_send_queues_once_and_the_outbox_delivers_once_per_channel(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    markdown = run("digest", "weekly", "--date", "2026-03-02", "--format", "md").stdout
    with http_receiver() as hook:
        monkeypatch.setenv("DECISIONS_WEBHOOK_URL", hook.url)
        first = run("digest", "send", "weekly", "--date", "2026-03-04")
        assert first.exit_code == 0, first.output
        assert "weekly_sync:2026-03-02" in first.output
        # cron fires twice (or two hosts run it): the outbox's dedupe key keeps one message per channel.
        assert run("digest", "send", "weekly", "--date", "2026-03-06").exit_code == 0
        delivered = run("notify", "deliver", "--until-idle")
        assert delivered.exit_code == 0, delivered.output
        digests = [r["body"] for r in hook.requests if r["body"]["kind"] == "digest"]
    # One post to the webhook, naming the default recipients: the tech PMs and the director.
    assert len(digests) == 1 and digests[0]["recipients"] == ["dana", "priya", "tomas"]
    assert all(b["window"] == "weekly_sync:2026-03-02" and b["text"] == markdown for b in digests)


def test_digest_send_by_email(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    with smtp_receiver() as smtp:
        monkeypatch.setenv("DECISIONS_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("DECISIONS_SMTP_PORT", str(smtp.port))
        assert run("digest", "send", "weekly", "--date", "2026-03-02", "--to", "dana").exit_code == 0
        delivered = run("notify", "deliver", "--until-idle")
        mails = [m for m in smtp.messages if "Review digest" in m["text"]]
    assert delivered.exit_code == 0, repr(delivered.exception)
    assert [m["to"] for m in mails] == ["dana@example.com"]
