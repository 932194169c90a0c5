"""A demo organisation: two quarters of plausible history for the default policy's people, filed,
approved, rejected, amended, delegated and broken-glass through the service itself (so the log
verifies and the replay audit accepts it), plus a pre-adoption baseline in which the director
decided far more. Deterministic for a seed and a day."""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from engine.effect.baseline import BaselineItem
from engine.errors import DomainError
from engine.review.windows import period_before, period_for_date
from engine.types import (
    AmendRequest,
    CommentRequest,
    DelegationRequest,
    FilingRequest,
    ProceedRequest,
    VerdictRequest,
)

SQUAD_MEMBERS = ("mei", "jon", "sofia", "ravi", "lena", "omar")
PM_OF_SQUAD = {"nucleus": "tomas", "atlas": "priya"}


class DemoClock:
    """The service's clock during the demo: set by the scheduler, never going backwards."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def move_to(self, moment: datetime) -> None:
        self.now = max(self.now, moment)


@dataclass(order=True)
class _Step:
    at: datetime
    order: int
    run: Callable[[], Any] = field(compare=False)


@dataclass
class DemoSummary:
    start: date
    end: date
    filed: int = 0
    approved: int = 0
    rejected: int = 0
    amended: int = 0
    break_glass: int = 0
    delegations: int = 0
    still_pending: int = 0
    refused: int = 0
    baseline_rows: int = 0
    by_tier: dict[int, int] = field(default_factory=lambda: {1: 0, 2: 0, 3: 0})


def _filing(rng: random.Random) -> tuple[str, dict[str, Any], str]:
    """A category, attributes and a title with the spread a data-operations org sees."""
    roll = rng.random()
    if roll < 0.30:
        deviation = round(rng.lognormvariate(0.1, 0.55), 1)
        clients = 1 if rng.random() < 0.85 else rng.randint(2, 4)
        title = (
            f"Annotation agreement bound off by {deviation}% on the {rng.choice(['code', 'safety', 'reasoning'])} set"
        )
        return "quality_threshold", {"deviation_pct": deviation, "affected_clients": clients}, title
    if roll < 0.55:
        risk = min(100, int(rng.gammavariate(2.2, 10)))
        title = f"{rng.choice(['Dedup', 'Sampling', 'Reward-model filter', 'Shard size'])} change in the RLHF pipeline"
        return "pipeline", {"risk_score": risk}, title
    if roll < 0.70:
        fmt = rng.choice(["csv", "dashboard", "pdf"])
        return "reporting_format", {"client_format": fmt}, f"Quality report to a client as {fmt}"
    if roll < 0.78:
        change = "new_category" if rng.random() < 0.35 else "rubric_update"
        domain = rng.choice(["reasoning", "instruction_following", "code", "knowledge_retrieval", "safety"])
        return "domain", {"change": change, "domain": domain}, f"{change.replace('_', ' ').capitalize()}: {domain}"
    if roll < 0.86:
        return (
            "annotator_tier",
            {"annotator": f"a-{rng.randint(1000, 9999)}", "from_tier": "generalist", "to_tier": "specialist"},
            "Reclassify an annotator to specialist",
        )
    if roll < 0.92:
        change = rng.choice(["scope", "term", "pricing"])
        return "contract", {"change": change}, f"Evaluation contract {change} change"
    if roll < 0.96:
        client = rng.choice(["acme", "globex", "initech", "umbrella"])
        return "client_onboarding", {"client": client}, f"Onboarding architecture for {client}"
    suite = rng.choice(["reasoning-suite", "code-suite"])
    return "benchmark", {"benchmark": suite, "change": "metric"}, f"Benchmark framework change: {suite}"


def history_span(today: date, policy: Any) -> tuple[date, date]:
    """Two quarters up to `today`: from the start of the quarter two before the current one."""
    tz = policy.timezone
    current = period_for_date("quarter", tz, today)
    first = period_before(period_before(current, tz), tz)
    return first.start_local, today


def baseline_rows(policy: Any, history_start: date, rng: random.Random) -> list[BaselineItem]:
    """The quarter before adoption (the policy's baseline window when it lies before the history):
    about 70 items a week, 27 % of them decided by the director."""
    window = policy.baseline
    if window is not None and window[1] < history_start:
        first, last = window
    else:
        before = period_before(period_for_date("quarter", policy.timezone, history_start), policy.timezone)
        first, last = before.start_local, before.end_local - timedelta(days=1)
    rows = []
    line = 2
    day = first
    while day <= last:
        if day.weekday() < 5:
            for _ in range(rng.randint(11, 17)):
                roll = rng.random()
                decided_by, kind = (
                    ("director", rng.choice(["contract", "pipeline", "quality_threshold", "client_onboarding"]))
                    if roll < 0.27
                    else ("tech_pm", rng.choice(["quality_threshold", "domain", "annotator_tier"]))
                    if roll < 0.55
                    else ("squad", rng.choice(["reporting_format", "pipeline", "quality_threshold"]))
                )
                waited = round(rng.gammavariate(2.0, 2.5 if decided_by == "director" else 0.8), 1)
                rows.append(
                    BaselineItem(line, day, kind, decided_by, {"director": 3, "tech_pm": 2}.get(decided_by, 1), waited)
                )
                line += 1
        day += timedelta(days=1)
    return rows


def baseline_csv(rows: list[BaselineItem]) -> str:
    lines = ["date,kind,decided_by,waited_days"]
    lines += [f"{r.day.isoformat()},{r.kind},{r.decided_by},{r.waited_days}" for r in rows]
    return "\n".join(lines) + "\n"


def run_demo(
    rt: Any,
    clock: DemoClock,
    today: date,
    seed: int = 7,
    per_day: tuple[int, int] = (8, 13),
    progress: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Drive the service through two quarters ending `today`. `rt` is a Runtime opened with `clock`."""
    from engine.effect.service import Effect

    rng = random.Random(seed)
    policy = rt.policies.current
    people = policy.people
    tz = policy.timezone
    start, end = history_span(today, policy)
    summary = DemoSummary(start=start, end=end)
    end_at = datetime.combine(today, time(18), tz).astimezone(UTC)
    queue: list[_Step] = []
    order = itertools.count()

    def at(moment: datetime, run: Callable[[], Any]) -> None:
        if moment <= end_at:
            heapq.heappush(queue, _Step(moment, next(order), run))

    def attempt(run: Callable[[], Any]) -> Any:
        try:
            return run()
        except DomainError:
            summary.refused += 1
            return None

    def approver_for(tier: int, filer: str) -> str:
        if tier == 3:
            return "dana"
        squad = people[filer].squad or "nucleus"
        pm = PM_OF_SQUAD.get(squad, "tomas")
        return pm if pm != filer else ("priya" if pm == "tomas" else "tomas")

    def schedule_outcome(decision: Any, filed_at: datetime) -> None:
        tier, filer = decision.tier, decision.filed_by
        sla_hours = 72 if tier == 2 else 120
        late = rng.random() < 0.08
        hours = rng.uniform(sla_hours * 1.05, sla_hours * 1.8) if late else rng.gammavariate(2.0, sla_hours / 8)
        decided_at = filed_at + timedelta(hours=hours)
        approver = approver_for(tier, filer)
        roll = rng.random()
        if roll < 0.04:
            at(filed_at + timedelta(hours=hours / 3), lambda: amend(decision, filer))
        elif roll < 0.06 and tier == 2:
            at(filed_at + timedelta(hours=1), lambda: break_glass(decision, filer))
        if rng.random() < 0.3:
            at(filed_at + timedelta(hours=hours / 2), lambda: comment(decision, approver))
        verdict = "reject" if rng.random() < 0.06 else "approve"
        at(decided_at, lambda: give(decision, approver, verdict))

    def give(decision: Any, approver: str, verdict: str) -> None:
        reason = "needs a smaller rollout first" if verdict == "reject" else "agreed"
        done = attempt(
            lambda: rt.service.decide(people[approver], decision.id, VerdictRequest(verdict=verdict, reason=reason))  # type: ignore[arg-type]
        )
        if done is not None and done.status == "approved":
            summary.approved += 1
        elif done is not None and done.status == "rejected":
            summary.rejected += 1

    def amend(decision: Any, filer: str) -> None:
        text = f"{decision.rationale or ''} Scope narrowed after review.".strip()
        if attempt(
            lambda: rt.service.amend(people[filer], decision.id, AmendRequest(rationale=text, reason="narrowed"))
        ):
            summary.amended += 1

    def break_glass(decision: Any, filer: str) -> None:
        request = ProceedRequest(reason="the client delivery is due before the sign-off can happen")
        if attempt(lambda: rt.service.proceed(people[filer], decision.id, request)):
            summary.break_glass += 1

    def comment(decision: Any, who: str) -> None:
        attempt(
            lambda: rt.service.comment(people[who], decision.id, CommentRequest(text="Looked at the numbers; fine."))
        )

    def file_one(filer: str) -> None:
        category, attributes, title = _filing(rng)
        request = FilingRequest(
            title=title,
            category=category,
            attributes=attributes,
            rationale="Seen in the weekly quality review.",
            links=[f"https://tickets.example/DO-{rng.randint(1000, 9999)}"],
        )
        result = attempt(lambda: rt.service.file(people[filer], request))
        if result is None:
            return
        decision = result.decision
        summary.filed += 1
        summary.by_tier[decision.tier] += 1
        if decision.status == "pending":
            schedule_outcome(decision, clock.now)

    def delegate(who: str, to: str, role: str, first: datetime, days: int) -> None:
        request = DelegationRequest(delegate=to, role=role, starts_at=first, ends_at=first + timedelta(days=days))
        if attempt(lambda: rt.service.delegate(people[who], request)):
            summary.delegations += 1

    day = start
    while day <= end:
        if day.weekday() < 5:
            for _ in range(rng.randint(*per_day)):
                moment = datetime.combine(day, time(rng.randint(8, 17), rng.randint(0, 59)), tz).astimezone(UTC)
                filer = rng.choice(SQUAD_MEMBERS) if rng.random() < 0.92 else rng.choice(("tomas", "priya"))
                at(moment, lambda filer=filer: file_one(filer))  # type: ignore[misc]
        day += timedelta(days=1)
    # Out of office: Priya's sign-off goes to Tomas for two weeks, the director's to Priya for one.
    vacation = datetime.combine(start + timedelta(days=40), time(7), tz).astimezone(UTC)
    at(vacation, lambda: delegate("priya", "tomas", "tech_pm", vacation, 14))
    away = datetime.combine(start + timedelta(days=110), time(7), tz).astimezone(UTC)
    at(away, lambda: delegate("dana", "priya", "director", away, 7))

    done = 0
    while queue:
        step = heapq.heappop(queue)
        clock.move_to(step.at)
        step.run()
        done += 1
        if progress is not None and done % 500 == 0:
            progress(f"{done:,} steps, up to {step.at.date().isoformat()}")
    clock.move_to(end_at)
    effect = Effect(rt.service, rt.policies, clock)
    summary.still_pending = effect.open_count()
    rows = baseline_rows(policy, start, rng)
    effect.import_baseline(people["adm"], rows, "demo baseline (generated)")
    summary.baseline_rows = len(rows)
    return summary
