"""The e-mailed digest of a closed window names people as the policy in force at its close did: a policy that
renames someone afterwards (before the schedule's tick, or before cron's `decisions digest send`) leaves the mail
as it would have been, byte for byte, while the open window already reads the new name."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from api.cli import main
from engine.notify.config import NotifyConfig
from engine.notify.delivery import deliver_due
from engine.notify.outbox import enqueue_digest
from engine.review.digest import Digest
from engine.review.render import digest_mail_html, digest_markdown
from engine.review.schedule import WindowCloser
from engine.runtime import Runtime, open_runtime
from engine.store.outbox_tables import OutboxMessage
from engine.text_safety import markdown_inline
from engine.types import FilingRequest, VerdictRequest
from tests.notify.mail import Html, parsed, parts
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


def _digest_mails(smtp: SmtpReceiver) -> list[tuple[str, str, str | None]]:
    """(to, text part, HTML part) of each digest e-mail as its reader's mail program decodes it."""
    mails = []
    for m in smtp.messages:
        message = parsed(m)
        if str(message["Subject"]).startswith("Review digest"):
            mails.append((m["to"], *parts(message)))
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
    link = f"{rt.notify.base_url}/digests/weekly?date=2026-03-02"
    expected_html = digest_mail_html(closed, rt.policies.current, link=link, base_url=rt.notify.base_url)
    assert OLD in Html.of(expected_html).visible

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
    assert sorted(to for to, _, _ in mails) == ["dana@example.com", "priya@example.com", "tomas@example.com"]
    assert [text for _, text, _ in mails] == [f"{expected}\n\n{link}\n"] * 3
    # Its HTML part too: what was rendered at the close, byte for byte.
    assert [html for _, _, html in mails] == [expected_html] * 3
    assert not [text for _, text, html in mails if NEW in text or NEW in str(html)]
    # The rename did take: the open window names her anew.
    file(rt, "mei", "pipeline", {"risk_score": 80}, "After the rename")
    current = rt.reviews.digest("weekly")
    assert filer_cell(NEW) in digest_markdown(current, rt.reviews.policy_of(current))


def _send_the_closed_week(rt: Runtime, clock: ManualClock) -> tuple[dict[str, str], Digest]:
    """Mei's and Jon's week of 2 March (Tomas signs Mei's), closed and mailed by the schedule's tick."""
    closer = WindowCloser(rt)
    at_local(clock, "2026-03-03T10:00")
    ids = {
        "sampler": file(rt, "mei", "pipeline", {"risk_score": 80}, "Swap the sampler (v2) | fast path"),
        "bound": file(rt, "jon", "quality_threshold", {"deviation_pct": 1.0}, "Loosen the bound"),
    }
    tomas = rt.policies.current.people["tomas"]
    rt.service.decide(tomas, ids["sampler"], VerdictRequest(verdict="approve", reason="ok"))
    assert closer.tick() == []
    at_local(clock, "2026-03-09T00:00:10")
    assert closer.tick() == ["weekly_sync:2026-03-02"]
    report = deliver_due(rt.service.engine, rt.notify, clock())
    assert report.failed == 0
    return ids, rt.reviews.digest("weekly", date(2026, 3, 2))


def test_the_digest_mail_is_its_markdown_and_its_html_as_alternatives(
    mailed: tuple[Runtime, SmtpReceiver], clock: ManualClock
) -> None:
    rt, smtp = mailed
    ids, closed = _send_the_closed_week(rt, clock)
    link = f"{rt.notify.base_url}/digests/weekly?date=2026-03-02"
    text = f"{digest_markdown(closed, rt.reviews.policy_of(closed))}\n\n{link}\n"
    received = [parsed(m) for m in smtp.messages]
    mails = [m for m in received if str(m["Subject"]).startswith("Review digest")]
    assert len(mails) == 3
    for message in mails:
        assert message.get_content_type() == "multipart/alternative"
        # The text first, the HTML last: a mail program shows the last part it can.
        assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
        plain, html = parts(message)
        # The text part is the mail as it was before it had an HTML part: the same words, the same encoding.
        assert plain == text
        alone = EmailMessage()
        alone.set_content(text)
        part = message.get_body(("plain",))
        assert part is not None
        assert part.get_payload() == alone.get_payload()
        assert (part["Content-Type"], part["Content-Transfer-Encoding"]) == (
            alone["Content-Type"],
            alone["Content-Transfer-Encoding"],
        )
        assert html is not None
        doc = Html.of(html)
        # Rendered, not escaped for Markdown: the reader sees names and titles, no backslashes, no table pipes.
        assert "\\" not in doc.visible and "|---|" not in doc.visible
        title, category, squad, status, filer, signed, _time = doc.rows[ids["sampler"]]
        assert title == "Swap the sampler (v2) | fast path"
        assert (category, squad, filer, signed) == ("pipeline", "nucleus", OLD, "Tomas")
        assert status.startswith("approved")
        assert doc.rows[ids["bound"]][:2] == ["Loosen the bound", "quality threshold"]
        assert doc.rows[ids["bound"]][4] == "Jon (researcher)"
        # For a mail program: its own styles, nothing fetched, no script; links absolute, the web digest's first.
        assert doc.tags("style") and not doc.tags("link") and not doc.tags("script") and not doc.tags("img")
        assert not [a for _, a in doc.elements if "src" in a or any(k.startswith("on") for k in a)]
        assert "url(" not in html and "@import" not in html
        hrefs = [a["href"] for a in doc.tags("a")]
        assert hrefs[0] == link and hrefs[-1] == link
        assert f"{rt.notify.base_url}/decisions/{ids['sampler']}" in hrefs
        assert all(str(h).startswith(f"{rt.notify.base_url}/") for h in hrefs)


def test_a_retried_digest_mail_sends_the_html_of_its_first_attempt(database_url: str, clock: ManualClock) -> None:
    """Rendered once when queued: a decision filed and a rename between two attempts change neither part."""
    with smtp_receiver(fail_first=1) as smtp:
        config = NotifyConfig(smtp_host="127.0.0.1", smtp_port=smtp.port)
        rt = open_runtime(database_url, str(DEFAULT_POLICY), clock=clock, notify=config)
        try:
            at_local(clock, "2026-03-03T10:00")
            file(rt, "mei", "quality_threshold", {"deviation_pct": 1.0}, "Before the first attempt")
            built = rt.reviews.digest("weekly")  # the open week
            words = rt.reviews.policy_of(built)
            link = f"{config.base_url}/digests/weekly?date={built.window_start.isoformat()}"
            queued_html = digest_mail_html(built, words, link=link, base_url=config.base_url)
            assert enqueue_digest(rt.service.engine, words, config, built, "weekly", ["tomas"], clock(), words=words)
            first = deliver_due(rt.service.engine, config, clock())
            assert (first.delivered, first.failed, len(smtp.refused), smtp.messages) == (0, 1, 1, [])

            clock.advance(seconds=60)
            file(rt, "mei", "quality_threshold", {"deviation_pct": 1.0}, "Between the attempts")
            _rename_mei(rt)
            now = rt.reviews.digest("weekly")
            rendered_now = digest_mail_html(now, rt.reviews.policy_of(now), link=link, base_url=config.base_url)
            assert "Between the attempts" in rendered_now and NEW in rendered_now  # a re-render would differ

            clock.advance(seconds=3600)  # past the back-off
            second = deliver_due(rt.service.engine, config, clock())
            assert second.failed == 0
        finally:
            rt.close()
    [tried] = [parsed(m) for m in smtp.refused]
    [sent] = [parsed(m) for m in smtp.messages if str(parsed(m)["Subject"]).startswith("Review digest")]
    assert parts(sent) == parts(tried)
    plain, html = parts(sent)
    assert html == queued_html
    assert plain == f"{digest_markdown(built, words)}\n\n{link}\n"
    assert "Between the attempts" not in html and NEW not in html and OLD in Html.of(html).visible


def test_a_digest_row_queued_before_the_html_part_is_still_sent_as_text(
    mailed: tuple[Runtime, SmtpReceiver], clock: ManualClock
) -> None:
    rt, smtp = mailed
    at_local(clock, "2026-03-03T10:00")
    file(rt, "mei", "quality_threshold", {"deviation_pct": 1.0}, "Loosen the bound")
    built = rt.reviews.digest("weekly")
    words = rt.reviews.policy_of(built)
    assert enqueue_digest(rt.service.engine, words, rt.notify, built, "weekly", ["tomas"], clock(), words=words)
    # The row as the code before the HTML part wrote it: its payload had no "html".
    outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
    with rt.service.engine.begin() as conn:
        [(row_id, payload)] = conn.execute(sa.select(outbox.c.id, outbox.c.payload)).all()
        assert payload["html"]
        old = {k: v for k, v in payload.items() if k != "html"}
        conn.execute(sa.update(outbox).where(outbox.c.id == row_id).values(payload=old))

    assert deliver_due(rt.service.engine, rt.notify, clock()).delivered == 1
    [message] = [parsed(m) for m in smtp.messages]
    assert not message.is_multipart() and message.get_content_type() == "text/plain"
    link = f"{rt.notify.base_url}/digests/weekly?date={built.window_start.isoformat()}"
    assert message.get_content() == f"{digest_markdown(built, words)}\n\n{link}\n"  # type: ignore[attr-defined]
