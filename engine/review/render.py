"""Digests and escalation reports as JSON, Markdown and HTML. Deterministic: no "generated at now"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from jinja2 import Environment, FileSystemLoader, select_autoescape

from engine.review.digest import Digest, DigestDecision, TrendPoint
from engine.review.metrics import EscalationReport
from engine.text_safety import markdown_inline

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


def _row(d: DigestDecision, digest: Digest) -> str:
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
        f"| {d.id} | {_cell(d.title)} | {_cell(d.category)} | {_cell(d.squad)} | {d.status} {flags} | "
        f"{_cell(d.filed_by)} | {_cell(', '.join(d.approvers))} | {ttd or waited} |"
    )


def _baseline_line(d: Digest) -> list[str]:
    b = d.baseline
    if b is None:
        return []
    change = "n/a" if b.change_pct is None else f"{b.change_pct:+g}%"
    return [
        f"- Reached the director: **{b.reached_director}**, against {b.expected_from_baseline:g} at the pre-adoption "
        f"baseline's rate ({change}; baseline share {_pct(b.baseline_share)}, log seq {b.import_seq})"
    ]


def digest_markdown(d: Digest) -> str:
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
        f"- Pending: {len(d.pending)}, overdue: **{d.overdue}**, break-glass awaiting review: **{len(d.break_glass)}**",
        *_baseline_line(d),
        "- By category: " + (", ".join(f"{_cell(k)} {v}" for k, v in d.by_category.items()) or "none"),
        "- By squad: " + (", ".join(f"{_cell(k)} {v}" for k, v in d.by_squad.items()) or "none"),
        "",
    ]
    header = "| id | title | category | squad | status | filer | signed by | time to decision / waiting |"
    rule = "|---|---|---|---|---|---|---|---|"
    for section in d.sections:
        here = " (reviewed in this meeting)" if section.reviewed_here else ""
        lines += [f"## Tier {section.tier}: {section.name}{here}", ""]
        if section.decisions:
            lines += [header, rule, *(_row(x, d) for x in section.decisions), ""]
        else:
            lines += ["None filed in this window.", ""]
    lines += ["## Still waiting", ""]
    lines += [header, rule, *(_row(x, d) for x in d.pending), ""] if d.pending else ["Nothing is waiting.", ""]
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


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.1f}%"


def trend_svg(points: list[TrendPoint], width: int = 480, height: int = 140) -> str:
    """A stacked bar per window (tier 1 green, 2 amber, 3 red); plain SVG, no script."""
    if not points:
        return ""
    top = max((p.tier1 + p.tier2 + p.tier3) for p in points) or 1
    bar = width / len(points)
    colours = ("#1e7a3c", "#c58a00", "#b3261e")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height + 20}" width="100%" '
        f'role="img" aria-label="Decisions filed per window, by tier">'
    ]
    for i, p in enumerate(points):
        y = float(height)
        for value, colour in zip((p.tier1, p.tier2, p.tier3), colours, strict=True):
            h = height * value / top
            y -= h
            if value:
                parts.append(
                    f'<rect x="{i * bar + 4:.1f}" y="{y:.1f}" width="{bar - 8:.1f}" height="{h:.1f}" fill="{colour}">'
                    f"<title>{p.window_start.isoformat()}: {value}</title></rect>"
                )
        parts.append(
            f'<text x="{i * bar + bar / 2:.1f}" y="{height + 14}" font-size="10" text-anchor="middle">'
            f"{p.window_start.strftime('%d %b')}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def digest_html(d: Digest, standalone: bool = True) -> str:
    template = _env.get_template("digest.html.j2")
    return template.render(d=d, chart=trend_svg(d.trend), standalone=standalone, t=lambda m: _t(m, d), pct=_pct)


def render_digest(d: Digest, fmt: str) -> bytes:
    if fmt == "json":
        return to_json(d)
    if fmt == "md":
        return digest_markdown(d).encode()
    if fmt == "html":
        return digest_html(d).encode()
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
