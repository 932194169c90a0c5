"""Digests and escalation reports as JSON, Markdown and HTML. Deterministic: no "generated at now"."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from engine.review.digest import Digest, DigestDecision, TrendPoint
from engine.review.metrics import EscalationReport
from engine.text_safety import markdown_inline, plain_text
from engine.words import category_words, html_named, person_words, says_the_id
from policy.compiled import Policy

FORMATS = ("json", "md", "html")
#: Bare media types: the HTTP layer adds "; charset=utf-8" to text/* (twice, if we had too).
MEDIA = {"json": "application/json", "md": "text/markdown", "html": "text/html"}

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def to_json(value: Any) -> bytes:
    return msgspec.json.format(msgspec.json.encode(value), indent=2) + b"\n"


def _t(moment: Any, digest: Digest) -> str:
    if moment is None:
        return ""
    from zoneinfo import ZoneInfo

    return str(moment.astimezone(ZoneInfo(digest.timezone)).strftime("%Y-%m-%d %H:%M"))


def _cell(text: str | None) -> str:
    # Every name in a row may come from a user (titles, unknown categories): never Markdown syntax.
    return markdown_inline(text or "")


def _as_is(text: str) -> str:
    return text


class _Words:
    """Categories and people as the digest's policy names them (ids without a policy): in Markdown with the id
    in parentheses where the words do not say it, in HTML with the id in a title attribute. The JSON keeps ids.
    `shown` is what the HTML's medium does to text before it is escaped (the e-mail's defangs URLs)."""

    def __init__(self, policy: Policy | None, shown: Callable[[str], str] = _as_is) -> None:
        self.policy = policy
        self.shown = shown

    def md_category(self, name: str) -> str:
        return _md_named(category_words(self.policy, name), name)

    def md_person(self, name: str) -> str:
        return _md_named(person_words(self.policy, name), name)

    def html_category(self, name: str) -> Markup:
        return html_named(category_words(self.policy, name), name, self.shown)

    def html_person(self, name: str) -> Markup:
        return html_named(person_words(self.policy, name), name, self.shown)


def _md_named(words: str, name: str) -> str:
    return _cell(words if says_the_id(words, name) else f"{words} ({name})")


def _row(d: DigestDecision, digest: Digest, words: _Words) -> str:
    flags = " ".join(
        f
        for f, on in (
            ("**OVERDUE**", d.overdue),
            ("**BREAK-GLASS**", d.break_glass),
            ("**UNKNOWN CATEGORY**", d.unknown_category),
        )
        if on
    )
    ttd = f"{d.time_to_decision_hours} h" if d.time_to_decision_hours is not None else ""
    waited = f"{d.waiting_hours} h" if d.waiting_hours is not None else ""
    return (
        f"| {_cell(d.title)} | {words.md_category(d.category)} | {_cell(d.squad)} | {d.status} {flags} | "
        f"{words.md_person(d.filed_by)} | {', '.join(words.md_person(a) for a in d.approvers)} | "
        f"{ttd or waited} | {d.id} |"
    )


def earlier_pending(d: Digest) -> list[DigestDecision]:
    """What still waits and was not filed in this window: the rows the tier sections above do not list."""
    above = {x.id for section in d.sections for x in section.decisions}
    return [x for x in d.pending if x.id not in above]


def _waiting_here(d: Digest) -> int:
    """Waiting decisions the tier sections list (every one filed in this window: the sections are not capped)."""
    return sum(1 for section in d.sections for x in section.decisions if x.waiting_hours is not None)


def earlier_more(d: Digest, earlier: list[DigestDecision]) -> int:
    """Waiting from earlier windows beyond the ones listed (the digest lists the oldest PENDING_CAP)."""
    return len(d.pending) + d.pending_more - _waiting_here(d) - len(earlier)


def _more(n: int) -> str:
    return f"and {n:,} more" if n else ""


def _baseline_line(d: Digest) -> list[str]:
    b = d.baseline
    if b is None:
        return []
    change = "n/a" if b.change_pct is None else f"{b.change_pct:+g}%"
    return [
        f"- Reached the director: **{b.reached_director}**, against {b.expected_from_baseline:g} at the pre-adoption "
        f"baseline's rate ({change}; baseline share {_pct(b.baseline_share)}, log seq {b.import_seq})"
    ]


def digest_markdown(d: Digest, policy: Policy | None = None) -> str:
    """The digest as GitHub Markdown; categories and people named as `policy` (the digest's own) names them."""
    words = _Words(policy)
    lines = [
        f"# Review digest: {d.title or d.cadence}, {d.window_start.isoformat()} to {d.window_last_day.isoformat()}",
        "",
        f"Times in {d.timezone}. {'Closed window' if d.closed else 'Open window, as of ' + _t(d.as_of, d)}.",
        "",
        f"- Filed: **{d.filed}** (previous window {d.comparison.previous_filed}, change {d.comparison.change:+d})",
        "- By tier: " + ", ".join(f"tier {k}: {v}" for k, v in d.by_tier.items()),
        "- Escalation rate: "
        + _pct(d.comparison.escalation_rate)
        + " (previous "
        + _pct(d.comparison.previous_escalation_rate)
        + ")",
        f"- Pending: {len(d.pending) + d.pending_more}, overdue: **{d.overdue}**, "
        f"break-glass awaiting review: **{len(d.break_glass)}**",
        *_baseline_line(d),
        "- By category: " + (", ".join(f"{words.md_category(k)}: {v}" for k, v in d.by_category.items()) or "none"),
        "- By squad: " + (", ".join(f"{_cell(k)}: {v}" for k, v in d.by_squad.items()) or "none"),
        "",
    ]
    header = "| title | category | squad | status | filer | signed by | time to decision / waiting | id |"
    rule = "|---|---|---|---|---|---|---|---|"
    for section in d.sections:
        here = " (reviewed in this meeting)" if section.reviewed_here else ""
        lines += [f"## Tier {section.tier}: {section.name}{here}", ""]
        if section.decisions:
            lines += [header, rule, *(_row(x, d, words) for x in section.decisions), ""]
        else:
            lines += ["None filed in this window.", ""]
    earlier = earlier_pending(d)
    lines += ["## Still waiting from earlier windows", "", _waiting_note(d, earlier), ""]
    lines += [header, rule, *(_row(x, d, words) for x in earlier), ""] if earlier else []
    more = earlier_more(d, earlier)
    lines += (
        [f"{_more(more).capitalize()}, the oldest first: the digest lists {len(earlier)} of them.", ""] if more else []
    )
    lines += ["## Escalation trend", "", "| window | tier 1 | tier 2 | tier 3 |", "|---|---|---|---|"]
    lines += [f"| {p.window_start.isoformat()} | {p.tier1} | {p.tier2} | {p.tier3} |" for p in d.trend]
    lines += [
        "",
        "## The log at the window's end",
        "",
        f"- Size: {d.log.size} events; head hash `{d.log.head_hash}`",
        f"- Checkpoint signed by key(s): {', '.join(d.log.signed_by) or 'none'}",
    ]
    if d.log.checkpoint:
        lines += ["- First signed checkpoint covering it:", "", "```", d.log.checkpoint.rstrip("\n"), "```"]
    else:
        lines += ["- No signed checkpoint covers it yet."]
    return "\n".join(lines) + "\n"


def _waiting_note(d: Digest, earlier: list[DigestDecision]) -> str:
    here = _waiting_here(d)
    before = len(earlier) + earlier_more(d, earlier)
    listed = f"{here} filed in this window still wait{'s' if here == 1 else ''} (listed above)" if here else ""
    if not before:
        return f"Nothing from earlier windows waits; {listed}." if listed else "Nothing is waiting."
    return f"{before:,} filed before this window" + (f"; {listed}" if listed else "") + "."


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.1f}%"


def trend_svg(points: list[TrendPoint], width: int = 480, height: int = 150) -> str:
    """A stacked bar per window (tier 1 green, 2 amber, 3 red) with its total above it, a y axis with whole
    counts and gridlines, and each window's start date below; plain SVG, no script."""
    if not points:
        return ""
    totals = [p.tier1 + p.tier2 + p.tier3 for p in points]
    ticks = _nice_ticks(max(totals))
    top = ticks[-1]
    left, pad_top, bottom = 28, 14, 18
    plot_w, plot_h = width - left, height - pad_top - bottom
    bar = plot_w / len(points)
    colours = ("#1e7a3c", "#8a5a00", "#b3261e")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="Decisions filed per window, by tier: '
        + "; ".join(f"{p.window_start.isoformat()} {t}" for p, t in zip(points, totals, strict=True))
        + '">'
    ]
    for tick in ticks:
        y = pad_top + plot_h - plot_h * tick / top
        parts.append(f'<line x1="{left}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d9dee3" stroke-width="1"/>')
        parts.append(
            f'<text x="{left - 4}" y="{y + 3.5:.1f}" font-size="10" text-anchor="end" fill="#5b6570">{tick}</text>'
        )
    for i, (p, total) in enumerate(zip(points, totals, strict=True)):
        x = left + i * bar
        y = float(pad_top + plot_h)
        for value, colour in zip((p.tier1, p.tier2, p.tier3), colours, strict=True):
            h = plot_h * value / top
            y -= h
            if value:
                parts.append(
                    f'<rect x="{x + 4:.1f}" y="{y:.1f}" width="{bar - 8:.1f}" height="{h:.1f}" fill="{colour}">'
                    f"<title>{p.window_start.isoformat()}: {value}</title></rect>"
                )
        parts.append(
            f'<text x="{x + bar / 2:.1f}" y="{y - 3:.1f}" font-size="10" text-anchor="middle" '
            f'font-weight="bold">{total}</text>'
        )
        parts.append(
            f'<text x="{x + bar / 2:.1f}" y="{height - 4}" font-size="10" text-anchor="middle">'
            f"{p.window_start.strftime('%d %b')}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _nice_ticks(top: int) -> list[int]:
    """Whole-number axis values from 0 to a ceiling >= top, at most five, stepping 1, 2, 5, 10, 20, 50..."""
    top = max(top, 1)
    step = 1
    while -(-top // step) > 4:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2
    return list(range(0, -(-top // step) * step + 1, step))


def digest_html(d: Digest, standalone: bool = True, policy: Policy | None = None) -> str:
    """The digest as HTML (a whole page, or the article alone for the web page that frames it); categories and
    people named as `policy` (the digest's own) names them."""
    return _digest_html(d, standalone, policy)


def digest_mail_html(d: Digest, policy: Policy | None, *, link: str, base_url: str) -> str:
    """The digest as the HTML part of its e-mail: what `digest_html` shows, for a mail program. A whole document
    whose only styles are its own <style> block (no external CSS, no script); the trend as a table, not SVG
    (which Gmail and Outlook drop); links absolute (`base_url`, there is no page to be relative to) and `link`,
    the digest on the web, as an anchor at its top and foot. User text is escaped as on the page, and its URLs
    defanged (`https[:]//`) as in every e-mail body (`text_safety.plain_text`): mail programs link bare URLs in
    HTML too, and a title must not become a link in a mail the service sent."""
    return _digest_html(d, True, policy, mail={"link": link}, base=base_url.rstrip("/"), shown=plain_text)


def _digest_html(
    d: Digest,
    standalone: bool,
    policy: Policy | None,
    *,
    mail: dict[str, str] | None = None,
    base: str = "",
    shown: Callable[[str], str] = _as_is,
) -> str:
    template = _env.get_template("digest.html.j2")
    earlier = earlier_pending(d)
    words = _Words(policy, shown)
    return template.render(
        d=d, chart="" if mail else trend_svg(d.trend), standalone=standalone, t=lambda m: _t(m, d), pct=_pct,
        earlier=earlier, waiting_note=_waiting_note(d, earlier), more=_more(earlier_more(d, earlier)),
        category=words.html_category, person=words.html_person, user=shown, mail=mail, base=base,
    )  # fmt: skip


def render_digest(d: Digest, fmt: str, policy: Policy | None = None) -> bytes:
    """`fmt` json (ids, the data), md or html (the words `policy`, the one the digest was built under, gives)."""
    if fmt == "json":
        return to_json(d)
    if fmt == "md":
        return digest_markdown(d, policy).encode()
    if fmt == "html":
        return digest_html(d, policy=policy).encode()
    raise ValueError(f"format must be one of {', '.join(FORMATS)}")


def escalations_markdown(r: EscalationReport) -> str:
    lines = [
        f"# Escalations per {r.period} ({r.timezone})",
        "",
        f"Baseline {r.baseline}: escalation rate {_pct(r.baseline_escalation_rate)}" if r.baseline else "No baseline.",
        "",
        "| period | filed | tier 1 | tier 2 | tier 3 (director) | escalation rate | vs previous (pp) "
        "| vs baseline (pp) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in r.periods:
        lines.append(
            f"| {p.period} | {p.filed} | {p.tier1} | {p.tier2} | {p.tier3} | {_pct(p.escalation_rate)} | "
            f"{_signed(p.change_vs_previous)} | {_signed(p.change_vs_baseline)} |"
        )
    return "\n".join(lines) + "\n"


def _signed(value: float | None) -> str:
    return "" if value is None else f"{value:+.1f}"


def escalations_html(r: EscalationReport) -> str:
    return _env.get_template("escalations.html.j2").render(r=r, pct=_pct, signed=_signed)


def render_escalations(r: EscalationReport, fmt: str) -> bytes:
    if fmt == "json":
        return to_json(r)
    if fmt == "md":
        return escalations_markdown(r).encode()
    if fmt == "html":
        return escalations_html(r).encode()
    raise ValueError(f"format must be one of {', '.join(FORMATS)}")
