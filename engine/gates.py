"""Gates for pipelines (pure): may the work a decision covers go ahead now, and if not, why not.

It passes only when the decision is resolved (tier 1, by the squad at filing) or approved; a
withdrawn or superseded decision has that status instead, so it never passes. The reason is one
line, for a CI log.
"""

from __future__ import annotations

import re

from engine.types import DecisionView, GateView

PASSING = frozenset({"resolved", "approved"})


def one_line(text: str, limit: int = 300) -> str:
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "\u2026"


def gate_of(decision: DecisionView) -> GateView:
    status = decision.status
    counted = [a for a in decision.approvals if not a.dismissed]
    if status == "resolved":
        reason = f"resolved by the squad at filing (tier {decision.tier})"
    elif status == "approved":
        names = ", ".join(a.approver for a in counted if a.verdict == "approve")
        reason = f"approved by {names} (tier {decision.tier})"
    elif status == "pending":
        waiting = decision.missing or f"sign-off by {' or '.join(decision.route.roles or [decision.route.role or '?'])}"
        reason = f"pending tier {decision.tier}: waiting for {waiting}"
    elif status == "proceeded_pending_review":
        reason = f"went ahead under break-glass and is not approved yet: waiting for {decision.missing or 'review'}"
    elif status == "rejected":
        rejection = next((a for a in reversed(counted) if a.verdict == "reject"), None)
        reason = f"rejected by {rejection.approver}: {rejection.reason}" if rejection else "rejected"
    elif status == "withdrawn":
        reason = f"withdrawn by {decision.filed_by}"
    else:
        reason = f"superseded by {decision.superseded_by}: gate on that decision instead"
    return GateView(passed=status in PASSING, status=status, reason=one_line(reason), decision_id=decision.id)
