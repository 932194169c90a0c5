"""The e-mailed digest of a closed window names people as the policy in force at its close did: a policy that
renames someone afterwards (before the schedule's tick, or before cron's `decisions digest send`) leaves the mail
as it would have been, byte for byte, while the open window already reads the new name."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from click.testing import CliRunner

from api.cli import main
from engine.notify.config import NotifyConfig
from engine.notify.delivery import deliver_due
from engine.review.render import digest_markdown
from engine.review.schedule import WindowCloser
from engine.runtime import Runtime, open_runtime
from engine.text_safety import markdown_inline
from engine.types import FilingRequest, VerdictRequest
from tests.notify.receivers import SmtpReceiver, smtp_receiver
from tests.reports.helpers import at_local, file
from tests.support import DEFAULT_POLICY, ManualClock

OLD, NEW = "Mei (ML engineer)", "Mei Chen"


def filer_cell(name: str) -> str:
    """The digest's filer cell: the name, the id beside it, as Markdown text."""
    return f"| {markdown_inline(f'{name} (mei)')} |"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 2, 25, tzinfo=UTC))


@pytest.fixture
def mailed(database_url: str, clock: ManualClock) -> Iterator[tuple[Runtime, SmtpReceiver]]:
    with smtp_receiver() as smtp:
        config = NotifyConfig(smtp_host="127.0.0.1", smtp_port=smtp.port)
        rt = open_runtime(database_url, str(DEFAULT_POLICY), clock=clock, notify=config)
        try:
            yield rt, smtp
        finally:
            rt.close()


def _rename_mei(rt: Runtime) -> None:
    """Activate a policy that calls Mei by another name (filed by the admin, approved by the director)."""
    text = DEFAULT_POLICY.read_text().replace(f"display_name: {OLD},", f"display_name: {NEW},")
    candidate = rt.governance.propose(text, "candidate.yaml")
    people = rt.policies.current.people
    filed = rt.service.file(
        people["adm"],
        FilingRequest(title="Mei's name", category="policy", attributes={"candidate_version": candidate.version}),
    )
    rt.service.decide(people["dana"], filed.decision.id, VerdictRequest(verdict="approve", reason="agreed"))
    assert rt.policies.current.people["mei"].display_name == NEW


def _digest_mails(smtp: SmtpReceiver) -> list[tuple[str, str]]:
    """(to, body) of each digest e-mail as its reader's mail program decodes it."""
    mails = []
    for m in smtp.messages:
        # SMTP doubles a line's leading dot (RFC 5321 4.5.2); the receiver keeps the wire form.
        raw = "\n".join(line[1:] if line.startswith("..") else line for line in m["text"].split("\r\n"))
        message = email.message_from_string(raw, policy=email.policy.default)
        if str(message["Subject"]).startswith("Review digest"):
            mails.append((m["to"], message.get_content()))  # type: ignore[attr-defined]
    return mails


@pytest.mark.parametrize("sender", ["schedule", "cli"])
def test_a_closed_windows_mail_keeps_the_names_it_closed_with(
    mailed: tuple[Runtime, SmtpReceiver], clock: ManualClock, sender: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, smtp = mailed
    closer = WindowCloser(rt)
    at_local(clock, "2026-03-04T10:00")
    file(rt, "mei", "pipeline", {"risk_score": 80}, "Swap the sampler")
    assert closer.tick() == []  # its first look: nothing closed yet
    at_local(clock, "2026-03-09T00:00:10")  # Monday: the week of 2 March has closed
    closed = rt.reviews.digest("weekly", date(2026, 3, 2))
    assert closed.closed
    # What the mail says if it goes out now, in the words of the policy in force (the one the window closed under).
    expected = digest_markdown(closed, rt.policies.current)
    assert filer_cell(OLD) in expected

    clock.advance(seconds=20)
    _rename_mei(rt)  # before the schedule's next tick, and before cron's send
    if sender == "schedule":
        assert closer.tick() == ["weekly_sync:2026-03-02"]
        deliver_due(rt.service.engine, rt.notify, clock())
    else:
        # Cron's command: its own runtime on the system clock (after the close), the same database and outbox.
        monkeypatch.setenv("DECISIONS_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("DECISIONS_SMTP_PORT", str(smtp.port))
        base = ["--database-url", rt.database_url, "--policy", str(DEFAULT_POLICY)]
        sent = CliRunner().invoke(main, [*base, "digest", "send", "weekly", "--date", "2026-03-02"])
        assert sent.exit_code == 0 and "weekly_sync:2026-03-02" in sent.output, sent.output
        deliver_due(rt.service.engine, rt.notify, datetime.now(UTC) + timedelta(minutes=1))

    mails = _digest_mails(smtp)
    # To today's tech PMs and director, each reading what the window closed with.
    assert sorted(to for to, _ in mails) == ["dana@example.com", "priya@example.com", "tomas@example.com"]
    link = f"{rt.notify.base_url}/digests/weekly?date=2026-03-02"
    assert [body for _, body in mails] == [f"{expected}\n\n{link}\n"] * 3
    assert not [body for _, body in mails if NEW in body]
    # The rename did take: the open window names her anew.
    file(rt, "mei", "pipeline", {"risk_score": 80}, "After the rename")
    current = rt.reviews.digest("weekly")
    assert filer_cell(NEW) in digest_markdown(current, rt.reviews.policy_of(current))
