"""A review digest for one window (pure): what was decided, what waits, what is overdue, how it compares."""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import msgspec

from engine.types import OPEN_STATUSES
from policy.compiled import Policy


class DigestDecision(msgspec.Struct, kw_only=True):
    id: str
    title: str
    category: str
    squad: str | None
    tier: int
    status: str
    filed_by: str
    filed_at: datetime
    #: Who signed (approved, or rejected) as of the window's end; dismissed sign-offs are left out.
    approvers: list[str]
    decided_at: datetime | None
    time_to_decision_hours: float | None
    waiting_hours: float | None
    due_at: datetime | None
    overdue: bool
    break_glass: bool
    #: Filed under a category the policy does not know (tiered by unknown_category_tier): worth a look.
    unknown_category: bool = False


class TierSection(msgspec.Struct, kw_only=True):
    tier: int
    name: str
    #: The cadence that reviews this tier; `reviewed_here` when that is this digest's.
    review: str | None
    reviewed_here: bool
    decisions: list[DigestDecision]


class Comparison(msgspec.Struct, kw_only=True):
    filed: int
    previous_filed: int
    change: int
    by_tier: dict[str, int]
    previous_by_tier: dict[str, int]
    escalation_rate: float | None
    previous_escalation_rate: float | None


class TrendPoint(msgspec.Struct, kw_only=True):
    window_start: date
    tier1: int
    tier2: int
    tier3: int


class LogAtEnd(msgspec.Struct, kw_only=True):
    size: int
    head_hash: str
    #: The first signed checkpoint covering the window's end (C2SP note), and the keys that signed it as
    #: `<name>+<key id>` (the id is the first 4 bytes of SHA-256 over the name and public key: a fingerprint
    #: that, unlike the key file, can never change for a note once it is signed).
    checkpoint: str | None
    signed_by: list[str]


class Digest(msgspec.Struct, kw_only=True):
    cadence: str
    timezone: str
    window_start: date
    #: Last local day of the window (inclusive).
    window_last_day: date
    starts_at: datetime
    ends_at: datetime
    closed: bool
    #: The instant the waiting times and overdue flags are computed at: the window's end once it is closed.
    as_of: datetime
    policy_version: str
    filed: int
    by_tier: dict[str, int]
    by_category: dict[str, int]
    by_squad: dict[str, int]
    sections: list[TierSection]
    #: What waits at the window's end (as_of), oldest first: the first PENDING_CAP of them.
    pending: list[DigestDecision]
    #: How many more wait beyond `pending` (the digest shows "and N more"); `overdue` counts them all.
    pending_more: int = 0
    overdue: int
    break_glass: list[DigestDecision]
    comparison: Comparison
    trend: list[TrendPoint]
    log: LogAtEnd
    #: The review's name in words (the policy's `title`), for headings.
    title: str | None = None
    #: Against the imported pre-adoption baseline (engine.effect), when there is one.
    baseline: BaselineComparison | None = None


class BaselineComparison(msgspec.Struct, kw_only=True):
    """The window's director load against what the pre-adoption baseline's rate predicts for it."""

    reached_director: int
    expected_from_baseline: float
    change_pct: float | None
    baseline_share: float
    import_seq: int | None


def _hours(seconds: float) -> float:
    return round(seconds / 3600, 2)


def digest_decision(policy: Policy, state: dict[str, Any], as_of: datetime) -> DigestDecision:
    tier = policy.tiers.get(state["tier"])
    open_ = state["status"] in OPEN_STATUSES
    due = state["created_at"] + tier.sla if tier is not None and tier.sla is not None and open_ else None
    signed = [a["approver"] for a in state["approvals"] if not a.get("dismissed")]
    decided = state["decided_at"]
    return DigestDecision(
        id=state["id"],
        title=state["title"],
        category=state["category"],
        squad=state["squad"],
        tier=state["tier"],
        status=state["status"],
        filed_by=state["filed_by"],
        filed_at=state["created_at"],
        approvers=signed,
        decided_at=decided,
        time_to_decision_hours=_hours((decided - state["created_at"]).total_seconds()) if decided else None,
        waiting_hours=_hours((as_of - state["created_at"]).total_seconds()) if open_ else None,
        due_at=due,
        overdue=due is not None and as_of > due,
        break_glass=is_break_glass(state),
        unknown_category=not state.get("known_category", True),
    )


#: A digest lists at most this many waiting decisions (the oldest); it counts the rest.
PENDING_CAP = 100


@dataclass(frozen=True)
class Waiting:
    """The decisions open at the window's end, as the digest needs them: the oldest `cap` states (filing
    order), how many wait in all, how many of them are overdue, and every one under break-glass."""

    shown: list[dict[str, Any]]
    total: int
    overdue: int
    break_glass: list[dict[str, Any]]


def is_break_glass(state: dict[str, Any]) -> bool:
    return state["status"] == "proceeded_pending_review" or bool(state.get("break_glass_reason"))


def waiting_among(policy: Policy, states: Sequence[dict[str, Any]], as_of: datetime, cap: int) -> Waiting:
    """`Waiting` from decision states in filing order (the ones not open are passed over)."""
    open_ = [s for s in states if s["status"] in OPEN_STATUSES]
    return Waiting(
        shown=open_[:cap],
        total=len(open_),
        overdue=sum(1 for s in open_ if digest_decision(policy, s, as_of).overdue),
        break_glass=[s for s in open_ if is_break_glass(s)],
    )


def merge_waiting(a: Waiting, b: Waiting, cap: int) -> Waiting:
    """Two disjoint sets of waiting decisions as one (each in filing order)."""

    def seq(state: dict[str, Any]) -> int:
        return int(state["filed_seq"])

    return Waiting(
        shown=list(heapq.merge(a.shown, b.shown, key=seq))[:cap],
        total=a.total + b.total,
        overdue=a.overdue + b.overdue,
        break_glass=list(heapq.merge(a.break_glass, b.break_glass, key=seq)),
    )


def _rate(by_tier: Counter[int], filed: int) -> float | None:
    return round((by_tier[2] + by_tier[3]) / filed, 4) if filed else None


def build_digest(
    policy: Policy,
    cadence: str,
    window: Any,
    previous: Any,
    trend_windows: Sequence[Any],
    in_window: Sequence[dict[str, Any]],
    waiting: Waiting,
    trend_counts: Sequence[Counter[int]],
    previous_counts: Counter[int],
    as_of: datetime,
    log: LogAtEnd,
) -> Digest:
    """`in_window` are the decisions filed in the window as they stood at min(now, window end), in filing
    order; `waiting` the ones open then (engine.review.source.digest_rows). `trend_counts` (one per trend
    window) and `previous_counts` count filings by tier as of then (`tier_counts`)."""
    by_tier = Counter(s["tier"] for s in in_window)
    previous_filed = sum(previous_counts.values())
    views = {s["id"]: digest_decision(policy, s, as_of) for s in (*in_window, *waiting.shown, *waiting.break_glass)}
    sections = []
    for number in sorted(policy.tiers):
        tier = policy.tiers[number]
        sections.append(
            TierSection(
                tier=number,
                name=tier.name,
                review=tier.review,
                reviewed_here=tier.review == cadence,
                decisions=[views[s["id"]] for s in in_window if s["tier"] == number],
            )
        )
    pending = [views[s["id"]] for s in waiting.shown]  # oldest first
    trend = []
    for w, counts in zip(trend_windows, trend_counts, strict=True):
        trend.append(TrendPoint(window_start=w.start_local, tier1=counts[1], tier2=counts[2], tier3=counts[3]))
    return Digest(
        cadence=cadence,
        timezone=policy.timezone_name,
        window_start=window.start_local,
        window_last_day=date.fromordinal(window.end_local.toordinal() - 1),
        starts_at=window.start,
        ends_at=window.end,
        closed=as_of >= window.end,
        as_of=as_of,
        policy_version=policy.version,
        filed=len(in_window),
        by_tier={str(k): by_tier[k] for k in sorted(policy.tiers)},
        by_category=dict(sorted(Counter(s["category"] for s in in_window).items())),
        by_squad=dict(sorted(Counter(s["squad"] or "(none)" for s in in_window).items())),
        sections=sections,
        pending=pending,
        pending_more=waiting.total - len(pending),
        overdue=waiting.overdue,
        break_glass=[views[s["id"]] for s in waiting.break_glass],
        comparison=Comparison(
            filed=len(in_window),
            previous_filed=previous_filed,
            change=len(in_window) - previous_filed,
            by_tier={str(k): by_tier[k] for k in sorted(policy.tiers)},
            previous_by_tier={str(k): previous_counts[k] for k in sorted(policy.tiers)},
            escalation_rate=_rate(by_tier, len(in_window)),
            previous_escalation_rate=_rate(previous_counts, previous_filed),
        ),
        trend=trend,
        log=log,
    )
