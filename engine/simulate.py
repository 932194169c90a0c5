"""Impact simulation (pure): replay past decisions under a candidate policy."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Literal

import msgspec

from engine.classify import classify
from engine.history import HistoricalDecision
from policy.compiled import AttributesInvalid, Policy

Period = Literal["week", "month"]
MAX_LISTED = 1000


class Move(msgspec.Struct, kw_only=True):
    id: str
    category: str
    from_tier: int
    to_tier: int
    #: The candidate's rules that matched (the ones responsible for a raise).
    rules: list[str]


class PeriodLoad(msgspec.Struct, kw_only=True):
    period: str
    decisions: int
    director_before: int
    director_after: int
    tier2_before: int
    tier2_after: int


class ApproverLoad(msgspec.Struct, kw_only=True):
    name: str
    before: int
    after: int
    change: int


class SimulationReport(msgspec.Struct, kw_only=True):
    candidate_version: str
    total: int
    #: matrix[from_tier][to_tier] = count, tiers as strings "1".."3" (JSON keys).
    matrix: dict[str, dict[str, int]]
    moved_count: int
    moved: list[Move]
    raised: int
    lowered: int
    invalid_count: int
    invalid: list[str]
    periods: list[PeriodLoad]
    approvers: list[ApproverLoad]


def _period_key(moment: datetime, policy: Policy, period: Period) -> str:
    local = moment.astimezone(policy.timezone).date()
    if period == "month":
        return f"{local.year:04d}-{local.month:02d}"
    monday = local - timedelta(days=local.weekday())
    return monday.isoformat()


def _eligible(policy: Policy | None, tier: int) -> list[str]:
    if policy is None or tier not in policy.tiers or policy.tiers[tier].approvers is None:
        return []
    role = policy.tiers[tier].approvers.role  # type: ignore[union-attr]
    return sorted(p.name for p in policy.people_with_role(role))


def simulate(
    history: Iterable[HistoricalDecision],
    candidate: Policy,
    current: Policy | None = None,
    *,
    since: date | None = None,
    until: date | None = None,
    period: Period = "week",
) -> SimulationReport:
    matrix: dict[int, Counter[int]] = defaultdict(Counter)
    moved: list[Move] = []
    moved_count = raised = lowered = total = 0
    invalid: list[str] = []
    invalid_count = 0
    per_period: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    before_load: Counter[str] = Counter()
    after_load: Counter[str] = Counter()
    eligible_before = {t: _eligible(current, t) for t in (1, 2, 3)}
    eligible_after = {t: _eligible(candidate, t) for t in (1, 2, 3)}
    for decision in history:
        if since is not None or until is not None:
            day = decision.filed_at.astimezone(candidate.timezone).date()
            if (since is not None and day < since) or (until is not None and day >= until):
                continue
        total += 1
        try:
            result = classify(candidate, decision.category, decision.attributes)
        except AttributesInvalid:
            invalid_count += 1
            if len(invalid) < MAX_LISTED:
                invalid.append(decision.id)
            continue
        old, new = decision.tier, result.tier
        matrix[old][new] += 1
        if new != old:
            moved_count += 1
            raised += new > old
            lowered += new < old
            if len(moved) < MAX_LISTED:
                moved.append(
                    Move(
                        id=decision.id,
                        category=decision.category,
                        from_tier=old,
                        to_tier=new,
                        rules=[r.id for r in result.matched_rules],
                    )
                )
        bucket = per_period[_period_key(decision.filed_at, candidate, period)]
        bucket[0] += 1
        bucket[1] += old == 3
        bucket[2] += new == 3
        bucket[3] += old == 2
        bucket[4] += new == 2
        for name in eligible_before.get(old, []):
            if name != decision.filed_by:
                before_load[name] += 1
        for name in eligible_after.get(new, []):
            if name != decision.filed_by:
                after_load[name] += 1
    approvers = [
        ApproverLoad(name=n, before=before_load[n], after=after_load[n], change=after_load[n] - before_load[n])
        for n in sorted(set(before_load) | set(after_load))
        if before_load[n] != after_load[n]
    ]
    return SimulationReport(
        candidate_version=candidate.version,
        total=total,
        matrix={str(f): {str(t): c for t, c in sorted(row.items())} for f, row in sorted(matrix.items())},
        moved_count=moved_count,
        moved=moved,
        raised=raised,
        lowered=lowered,
        invalid_count=invalid_count,
        invalid=invalid,
        periods=[
            PeriodLoad(
                period=k, decisions=v[0], director_before=v[1], director_after=v[2], tier2_before=v[3], tier2_after=v[4]
            )
            for k, v in sorted(per_period.items())
        ],
        approvers=approvers,
    )


def render_markdown(report: SimulationReport) -> str:
    lines = [
        f"# Policy simulation: candidate {report.candidate_version[:12]}",
        "",
        f"{report.total} past decisions replayed; {report.moved_count} change tier "
        f"({report.raised} raised, {report.lowered} lowered); {report.invalid_count} no longer validate.",
        "",
        "## From tier (rows) to tier (columns)",
        "",
        "| from \\ to | 1 | 2 | 3 |",
        "|---|---|---|---|",
    ]
    for f in ("1", "2", "3"):
        row = report.matrix.get(f, {})
        lines.append(f"| {f} | " + " | ".join(str(row.get(t, 0)) for t in ("1", "2", "3")) + " |")
    lines += [
        "",
        "## Load per period",
        "",
        "| period | decisions | director before | after | tier 2 before | after |",
        "|---|---|---|---|---|---|",
    ]
    for p in report.periods:
        lines.append(
            f"| {p.period} | {p.decisions} | {p.director_before} | {p.director_after} | "
            f"{p.tier2_before} | {p.tier2_after} |"
        )
    if report.approvers:
        lines += [
            "",
            "## Approvers whose load changes",
            "",
            "| approver | before | after | change |",
            "|---|---|---|---|",
        ]
        lines += [f"| {a.name} | {a.before} | {a.after} | {a.change:+d} |" for a in report.approvers]
    if report.moved:
        lines += [
            "",
            "## Decisions that move",
            "",
            "| decision | category | from | to | rules |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {m.id} | {m.category} | {m.from_tier} | {m.to_tier} | {', '.join(m.rules)} |" for m in report.moved
        ]
    return "\n".join(lines) + "\n"
