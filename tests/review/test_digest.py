"""Digest content for a seeded log, field by field; a closed window re-renders byte for byte."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import msgspec
import pytest
from markdown_it import MarkdownIt

from engine.review.render import digest_mail_html, render_digest
from engine.runtime import Runtime
from engine.types import AmendRequest, FilingRequest, ProceedRequest, VerdictRequest
from policy import load_policy_text
from tests.support import DEFAULT_POLICY, ManualClock, markdown_table_rows

LA = ZoneInfo("America/Los_Angeles")


def _at(clock: ManualClock, local: str) -> None:
    clock.now = datetime.fromisoformat(local).replace(tzinfo=LA).astimezone(UTC)


def _file(rt: Runtime, who: str, category: str, attributes: dict, title: str) -> str:  # type: ignore[type-arg]
    person = rt.policies.current.people[who]
    return rt.service.file(person, FilingRequest(title=title, category=category, attributes=attributes)).decision.id


@pytest.fixture
def clock() -> ManualClock:
    """Starts before the seeded weeks: the log never stamps an event earlier than the one before it."""
    c = ManualClock()
    c.now = datetime(2026, 2, 20, tzinfo=UTC)
    return c


@pytest.fixture
def seeded(runtime: Runtime, clock: ManualClock) -> dict[str, str]:
    """The week of Monday 2026-03-02 (DST starts on its Sunday) and the week before it."""
    p = runtime.policies.current.people
    ids: dict[str, str] = {}
    _at(clock, "2026-02-25T10:00")
    ids["previous"] = _file(runtime, "mei", "reporting_format", {}, "last week's format")
    _at(clock, "2026-03-02T09:00")
    ids["tier1"] = _file(runtime, "mei", "quality_threshold", {"deviation_pct": 1.0}, "small deviation")
    _at(clock, "2026-03-03T10:00")
    ids["approved"] = _file(runtime, "jon", "pipeline", {"risk_score": 80}, "dedup stage")
    ids["overdue"] = _file(runtime, "ravi", "pipeline", {"risk_score": 90}, "new sampler")
    _at(clock, "2026-03-03T12:00")
    runtime.service.decide(p["tomas"], ids["approved"], VerdictRequest(verdict="approve"))
    _at(clock, "2026-03-04T08:30")
    ids["break_glass"] = _file(runtime, "mei", "pipeline", {"risk_score": 95}, "hotfix filter")
    runtime.service.proceed(p["mei"], ids["break_glass"], ProceedRequest(reason="client data leaking"))
    _at(clock, "2026-03-06T16:00")
    ids["tier3"] = _file(runtime, "lena", "contract", {"change": "scope"}, "Acme scope")
    _at(clock, "2026-03-08T23:59")  # Sunday night, after the DST switch: still this week
    ids["sunday"] = _file(runtime, "lena", "reporting_format", {}, "Sunday night format")
    _at(clock, "2026-03-10T09:00")  # the window is closed from here on
    return ids


def test_weekly_digest_content(runtime: Runtime, seeded: dict[str, str]) -> None:
    d = runtime.reviews.digest("weekly", date(2026, 3, 4))
    assert (d.cadence, d.window_start, d.window_last_day, d.closed) == ("weekly_sync", date(2026, 3, 2),
                                                                        date(2026, 3, 8), True)  # fmt: skip
    assert d.ends_at - d.starts_at == timedelta(hours=167)
    assert d.as_of == d.ends_at
    assert d.filed == 6
    assert d.by_tier == {"1": 2, "2": 3, "3": 1}
    assert d.by_category == {"contract": 1, "pipeline": 3, "quality_threshold": 1, "reporting_format": 1}
    assert d.by_squad == {"atlas": 3, "nucleus": 3}
    tier2 = next(s for s in d.sections if s.tier == 2)
    assert [x.id for x in tier2.decisions] == [seeded["approved"], seeded["overdue"], seeded["break_glass"]]
    approved = tier2.decisions[0]
    assert (approved.status, approved.approvers, approved.time_to_decision_hours) == ("approved", ["tomas"], 2.0)
    tier1 = next(s for s in d.sections if s.tier == 1)
    assert tier1.reviewed_here and not tier2.reviewed_here  # tier 2 is reviewed at the director's fortnight
    assert [x.id for x in tier1.decisions] == [seeded["tier1"], seeded["sunday"]]
    assert [x.id for x in d.pending] == [seeded["overdue"], seeded["break_glass"], seeded["tier3"]]
    overdue = d.pending[0]
    # Filed Tue 10:00 PST, the week ends Mon 00:00 PDT: 5 days 13 hours (DST ate one) = 133 h.
    assert overdue.overdue and overdue.waiting_hours == 133.0
    assert overdue.due_at == datetime(2026, 3, 6, 18, tzinfo=UTC)
    # The break-glass decision still awaits its after-the-fact review, past tier 2's 3-day SLA too.
    assert d.pending[1].overdue and d.overdue == 2
    assert [x.id for x in d.break_glass] == [seeded["break_glass"]]
    assert not d.pending[2].overdue  # tier 3's SLA is 5 days
    assert (d.comparison.previous_filed, d.comparison.change) == (1, 5)
    assert d.comparison.escalation_rate == round(4 / 6, 4)
    assert d.comparison.previous_by_tier == {"1": 1, "2": 0, "3": 0}
    assert [(p.window_start, p.tier1, p.tier2, p.tier3) for p in d.trend[-2:]] == [
        (date(2026, 2, 23), 1, 0, 0),
        (date(2026, 3, 2), 2, 3, 1),
    ]
    # The log at the window's end: every event before it, and the signed checkpoint that covers it.
    events = list(runtime.service.iter_event_rows())
    before = [e for e in events if e["at"] < d.ends_at]
    assert (d.log.size, d.log.head_hash) == (len(before), before[-1]["leaf_hash"])
    assert d.log.checkpoint is not None and d.log.signed_by == [
        f"{runtime.service.origin}+{runtime.checkpoints.keys[0].key_id.hex()}"
    ]


def test_a_closed_window_renders_byte_for_byte_whenever_asked(
    runtime: Runtime, clock: ManualClock, seeded: dict[str, str]
) -> None:
    formats = ("json", "md", "html")
    first = {fmt: render_digest(runtime.reviews.digest("weekly", date(2026, 3, 4)), fmt) for fmt in formats}
    # Life goes on: the overdue decision is approved, more are filed, a checkpoint is signed.
    p = runtime.policies.current.people
    _at(clock, "2026-03-11T09:00")
    runtime.service.decide(p["priya"], seeded["overdue"], VerdictRequest(verdict="approve"))
    _file(runtime, "jon", "contract", {"change": "term"}, "later")
    runtime.checkpoints.create()
    clock.now += timedelta(days=40)
    again = {fmt: render_digest(runtime.reviews.digest("weekly", date(2026, 3, 8)), fmt) for fmt in first}
    assert again == first
    assert b"OVERDUE" in first["md"] and b"BREAK-GLASS" in first["md"]
    assert b"<svg" in first["html"] and seeded["tier3"].encode() in first["html"]
    assert msgspec.json.decode(first["json"])["overdue"] == 2


def test_an_open_window_reports_as_of_now_and_the_biweekly_groups_fortnights(
    runtime: Runtime, clock: ManualClock, seeded: dict[str, str]
) -> None:
    _at(clock, "2026-03-08T23:59:30")  # the last half minute of the week
    d = runtime.reviews.digest("weekly")
    assert not d.closed and d.as_of == clock.now and d.log.checkpoint is None
    overdue = next(x for x in d.pending if x.id == seeded["overdue"])
    assert overdue.waiting_hours == round((clock.now - overdue.filed_at).total_seconds() / 3600, 2)
    _at(clock, "2026-03-20T12:00")
    b = runtime.reviews.digest("biweekly", date(2026, 3, 2))
    assert (b.cadence, b.window_start, b.window_last_day) == ("director_review", date(2026, 3, 2), date(2026, 3, 15))
    assert b.filed == 6 and b.comparison.previous_filed == 1
    assert next(s for s in b.sections if s.tier == 2).reviewed_here


def test_when_a_window_closes_a_checkpoint_is_signed_and_the_digest_queued(
    database_url: str, clock: ManualClock
) -> None:
    from engine.notify.config import NotifyConfig
    from engine.review.schedule import WindowCloser
    from engine.runtime import open_runtime
    from tests.support import DEFAULT_POLICY

    rt = open_runtime(
        database_url, str(DEFAULT_POLICY), clock=clock, notify=NotifyConfig(webhook_url="http://127.0.0.1:9/")
    )
    try:
        closer = WindowCloser(rt)
        _at(clock, "2026-03-06T10:00")
        _file(rt, "mei", "pipeline", {"risk_score": 80}, "before the close")
        assert closer.tick() == [] and rt.checkpoints.latest() is None  # first look: nothing closed yet
        _at(clock, "2026-03-09T00:00:30")  # Monday, just after midnight local: the week closed
        assert closer.tick() == ["weekly_sync:2026-03-02"]
        assert rt.checkpoints.latest() is not None
        assert closer.tick() == []  # once per window
        with rt.service.engine.connect() as conn:
            import sqlalchemy as sa

            kinds = [r[0] for r in conn.execute(sa.text("SELECT kind FROM outbox ORDER BY id"))]
        assert kinds.count("digest") == 1  # one webhook: one message, naming tomas, priya and dana
        _at(clock, "2026-03-16T00:00:30")  # a fortnight closes too
        assert closer.tick() == ["weekly_sync:2026-03-09", "director_review:2026-03-02"]
    finally:
        rt.close()


def test_trend_and_comparison_count_each_decision_at_its_tier_as_of_the_window_end(
    runtime: Runtime, clock: ManualClock
) -> None:
    """An amendment re-classifies: windows that closed before it keep the old tier, later ones show the new."""
    p = runtime.policies.current.people
    _at(clock, "2026-02-24T10:00")
    risky = _file(runtime, "jon", "pipeline", {"risk_score": 80}, "risky stage")  # tier 2
    _file(runtime, "mei", "reporting_format", {}, "format")  # tier 1
    _at(clock, "2026-03-03T10:00")  # next week: the risk is re-assessed, now tier 1
    runtime.service.amend(p["jon"], risky, AmendRequest(attributes={"risk_score": 10}, reason="re-assessed"))
    _at(clock, "2026-03-10T09:00")
    before = runtime.reviews.digest("weekly", date(2026, 2, 25))
    after = runtime.reviews.digest("weekly", date(2026, 3, 4))
    assert before.by_tier == {"1": 1, "2": 1, "3": 0}
    assert after.filed == 0 and after.comparison.previous_by_tier == {"1": 2, "2": 0, "3": 0}
    assert after.comparison.previous_escalation_rate == 0.0
    assert [(t.window_start, t.tier1, t.tier2) for t in before.trend[-1:]] == [(date(2026, 2, 23), 1, 1)]
    assert [(t.window_start, t.tier1, t.tier2) for t in after.trend[-2:]] == [
        (date(2026, 2, 23), 2, 0),
        (date(2026, 3, 2), 0, 0),
    ]


def test_each_row_once_ids_out_of_the_way_and_a_chart_with_axis_values(runtime: Runtime, clock: ManualClock) -> None:
    _at(clock, "2026-02-25T10:00")
    earlier = _file(runtime, "ravi", "pipeline", {"risk_score": 90}, "sampler from last week")
    _at(clock, "2026-03-03T10:00")
    this_week = _file(runtime, "jon", "pipeline", {"risk_score": 80}, "dedup stage")
    for i in range(6):
        _file(runtime, "mei", "quality_threshold", {"deviation_pct": 1.0}, f"small deviation {i}")
    _at(clock, "2026-03-10T09:00")
    d = runtime.reviews.digest("weekly", date(2026, 3, 4))
    assert {x.id for x in d.pending} == {earlier, this_week}
    html = render_digest(d, "html").decode()
    # "Still waiting" lists only what the tier sections above do not: nothing is shown twice.
    assert html.count(f'<tr data-decision="{this_week}">') == 1
    assert html.count(f'<tr data-decision="{earlier}">') == 1
    still = html[html.index("Still waiting from earlier windows") :]
    assert earlier in still and this_week not in still
    assert "1 filed before this window; 1 filed in this window still waits (listed above)." in still
    # Ids stay in links and attributes, out of the text a reader scans.
    visible = re.sub(r"<[^>]+>", " ", html)
    assert this_week not in visible and earlier not in visible
    # The trend chart carries its numbers: whole-count y-axis values and each window's total.
    chart = html[html.index("<svg") : html.index("</svg>")]
    assert re.findall(r'text-anchor="end" fill="#5b6570">(\d+)<', chart) == ["0", "2", "4", "6", "8"]
    assert re.search(r'font-weight="bold">7</text>[^<]*<text[^>]*>02 Mar<', chart)  # this week: 1 + 6 filed
    md = render_digest(d, "md").decode()
    assert md.count(f"| {this_week} |") == 1 and md.count(f"| {earlier} |") == 1
    assert "| title | category |" in md


_md = MarkdownIt("commonmark").enable(["table"])


def _md_cells(markdown: str) -> dict[str, list[str]]:
    """Each Markdown table row as a reader sees it (escapes resolved), by its first cell (the title)."""
    return {row[0]: row for row in markdown_table_rows(_md.parse(markdown)) if row}


def _html_row(html: str, decision_id: str) -> str:
    return html[html.index(f'<tr data-decision="{decision_id}">') :].split("</tr>", 1)[0]


def _visible(html: str) -> str:
    """The text a reader sees: inline elements join their neighbours, other elements break words apart."""
    inline = re.sub(r"</?(?:span|a|small|code|strong)\b[^>]*>", "", html)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", inline)))


def test_markdown_and_html_name_categories_and_people_as_the_policy_does(
    runtime: Runtime, seeded: dict[str, str]
) -> None:
    d = runtime.reviews.digest("weekly", date(2026, 3, 4))
    policy = runtime.reviews.policy_of(d)
    md = render_digest(d, "md", policy).decode()
    rows = _md_cells(md)
    # title | category | squad | status | filer | signed by | time | id
    assert rows["small deviation"][1] == "quality threshold"
    assert rows["small deviation"][4] == "Mei (ML engineer) (mei)"  # the id beside a name that does not say it
    assert rows["dedup stage"][4:6] == ["Jon (researcher) (jon)", "Tomas"]  # "Tomas" says tomas already
    assert rows["Acme scope"][4] == "Lena"
    by_category = next(line for line in _md.parse(md) if line.type == "inline" and "By category" in line.content)
    assert "quality threshold: 1" in by_category.content.replace("\\", "")
    assert "quality_threshold" not in md.replace("\\_", "_")  # the id is for JSON, not this reader

    html = render_digest(d, "html", policy).decode()
    row = _html_row(html, seeded["tier1"])
    assert '<span title="quality_threshold">quality threshold</span>' in row
    assert '<span title="mei">Mei (ML engineer)</span>' in row
    approved = _visible(_html_row(html, seeded["approved"]))
    assert "Jon (researcher)" in approved and "Tomas" in approved and "tomas" not in approved
    visible = _visible(html)
    assert "quality_threshold" not in visible and "reporting_format" not in visible
    assert "quality threshold: 1" in visible and "reporting format: 1" in visible

    # JSON is the data: ids, as before.
    data = msgspec.json.decode(render_digest(d, "json", policy))
    row_json = next(x for s in data["sections"] for x in s["decisions"] if x["id"] == seeded["approved"])
    assert (row_json["category"], row_json["filed_by"], row_json["approvers"]) == ("pipeline", "jon", ["tomas"])
    assert data["by_category"]["quality_threshold"] == 1


def test_names_from_the_policy_stay_escaped_in_markdown_and_html(runtime: Runtime, clock: ManualClock) -> None:
    """Display names are text too: a policy author's `<b>` or `[link](...)` reads as written, never as markup;
    an unknown category has no name but the one it was filed under, escaped the same way."""
    evil_name = '<b onmouseover="x">Mei</b> [click](https://evil.example) | **bold**'
    text = DEFAULT_POLICY.read_text().replace("display_name: Mei (ML engineer),", f"display_name: '{evil_name}',")
    policy = load_policy_text(text, "evil.yaml")
    assert policy.people["mei"].display_name == evil_name
    _at(clock, "2026-03-03T10:00")
    _file(runtime, "mei", "quality_threshold", {"deviation_pct": 1.0}, "plain title")
    _file(runtime, "mei", "<i>odd|category</i>", {}, "unknown one")
    _at(clock, "2026-03-10T09:00")
    d = runtime.reviews.digest("weekly", date(2026, 3, 4))

    md = render_digest(d, "md", policy).decode()
    tokens = _md.parse(md)
    kinds = {t.type for t in tokens} | {c.type for t in tokens for c in (t.children or [])}
    assert not kinds & {"html_block", "html_inline", "link_open"}, kinds
    rows = _md_cells(md)
    assert rows["plain title"][4] == f"{evil_name} (mei)" and len(rows["plain title"]) == 8
    assert rows["unknown one"][1] == "<i>odd|category</i>" and len(rows["unknown one"]) == 8

    html = render_digest(d, "html", policy).decode()
    assert "<b " not in html and "<i>" not in html
    assert '<span title="mei">&lt;b onmouseover=&#34;x&#34;&gt;Mei&lt;/b&gt;' in html
    visible = _visible(html)
    assert evil_name in visible and "<i>odd|category</i>" in visible

    # The e-mail's HTML part the same, its URLs defanged as in every e-mail body.
    mail = digest_mail_html(d, policy, link="https://decisions.example/digests/weekly", base_url="https://x.example")
    assert "<b " not in mail and "<i>" not in mail and "https://evil" not in mail
    assert '<span title="mei">&lt;b onmouseover=&#34;x&#34;&gt;Mei&lt;/b&gt;' in mail
    visible = _visible(mail)
    assert evil_name.replace("https://", "https[:]//") in visible and "<i>odd|category</i>" in visible
