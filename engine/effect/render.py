"""The effect report as JSON, Markdown and HTML (with an SVG chart). Deterministic output."""

from __future__ import annotations

from pathlib import Path

import msgspec
from jinja2 import Environment, FileSystemLoader, select_autoescape

from engine.effect.measures import EffectPeriod, EffectReport

FORMATS = ("json", "md", "html")
MEDIA = {"json": "application/json", "md": "text/markdown", "html": "text/html"}

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def _num(value: float | int | None, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:g}{suffix}"


def _signed(value: float | None, suffix: str) -> str:
    return "n/a" if value is None else f"{value:+g}{suffix}"


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _timing(p: EffectPeriod, tier: int) -> str:
    for t in p.time_to_decision:
        if t.tier == tier and t.decided:
            return f"{_num(t.median_hours)} / {_num(t.p90_hours)} h"
    return "n/a"


def effect_markdown(r: EffectReport) -> str:
    lines = [f"# Effect of decision rights, per {r.period}", ""]
    b = r.baseline
    if b is None:
        lines += [
            "No baseline imported: `decisions baseline import FILE` loads the pre-adoption record to compare with.",
            "",
        ]
    else:
        lines += [
            f"Baseline ({b.first_day.isoformat()} to {b.last_day.isoformat()}, {b.items} items, log seq "
            f"{b.import_seq}): **{b.reached_director}** reached the director ({_share(b.director_share)}), "
            f"{b.director_per_week:g} a week; median wait {_num(b.median_wait_days, ' days')}.",
            "",
        ]
    lines += [
        f"Times in {r.timezone}. Director hours recaptured assume {r.minutes_per_director_item:g} minutes per item.",
        "",
        "| period | filed | squad resolved | tech PM | director | director share | director load vs baseline "
        "| vs previous | tier 2 median / p90 | tier 3 median / p90 | overdue | director hours recaptured |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in r.periods:
        lines.append(
            f"| {p.period} | {p.filed} | {p.resolved_by_squad} | {p.signed_off_by_tech_pm} | {p.reached_director} | "
            f"{_share(p.director_share)} | {_signed(p.director_load_vs_baseline_pct, '%')} | "
            f"{_signed(p.director_load_vs_previous_pct, '%')} | {_timing(p, 2)} | {_timing(p, 3)} | {p.overdue} | "
            f"{_num(p.director_hours_recaptured, ' h')} |"
        )
    return "\n".join(lines) + "\n"


def _chart(r: EffectReport) -> dict[str, object]:
    """Bars: items that reached the director per week of each period; a line: the baseline's."""
    per_week = [round(p.reached_director * 7 / p.days, 1) if p.days else 0.0 for p in r.periods]
    base = r.baseline.director_per_week if r.baseline is not None else None
    top = max([*per_week, base or 0.0, 1.0])
    return {"per_week": per_week, "base": base, "top": top}


def effect_html(r: EffectReport, standalone: bool = True) -> str:
    """A whole page, or (standalone=False) the section the web page embeds."""
    name = "effect.html.j2" if standalone else "effect_body.html.j2"
    return _env.get_template(name).render(r=r, chart=_chart(r), share=_share, num=_num, signed=_signed, timing=_timing)


def render_effect(r: EffectReport, fmt: str) -> bytes:
    if fmt == "json":
        return msgspec.json.format(msgspec.json.encode(r), indent=2) + b"\n"
    if fmt == "md":
        return effect_markdown(r).encode()
    if fmt == "html":
        return effect_html(r).encode()
    raise ValueError(f"format must be one of {', '.join(FORMATS)}")
