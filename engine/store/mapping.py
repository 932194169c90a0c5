"""The one place where store rows become boundary Structs (and classifications become views)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from engine.classify import Classification
from engine.lifecycle import state_of
from engine.log.canonical import parse_at
from engine.quorum import missing
from engine.routing import approver_groups
from engine.types import (
    OPEN_STATUSES,
    ApprovalView,
    ClassificationView,
    DecisionDetail,
    DecisionView,
    EventView,
    Explanation,
    MatchedRuleView,
    Route,
)
from policy.compiled import Policy


def tier_name(policy: Policy, tier: int) -> str:
    spec = policy.tiers.get(tier)
    return spec.name if spec is not None else f"tier {tier}"


def explanation_summary(
    tier: int, name: str, base_tier: int, rules: list[MatchedRuleView], known_category: bool, category: str
) -> str:
    if not known_category:
        return f"Tier {tier} ({name}): the policy has no category {category!r}, so it fails closed."
    raising = [r for r in rules if r.tier > base_tier]
    if not raising:
        return f"Tier {tier} ({name}): the base tier of {category}; no rule raised it."
    because = "; ".join(f"{r.id}: {r.description}" for r in raising)
    return f"Tier {tier} ({name}): raised from base tier {base_tier} by {because}."


def _explanation(policy: Policy, row: Mapping[str, Any]) -> Explanation:
    rules = [MatchedRuleView(id=r["id"], tier=r["tier"], description=r["description"]) for r in row["matched_rules"]]
    return Explanation(
        base_tier=row["base_tier"],
        matched_rules=rules,
        policy_version=row["policy_version"],
        known_category=row["known_category"],
        summary=explanation_summary(
            row["tier"],
            tier_name(policy, row["tier"]),
            row["base_tier"],
            rules,
            row["known_category"],
            row["category"],
        ),
    )


def decision_view(policy: Policy, row: Mapping[str, Any]) -> DecisionView:
    route = msgspec.convert(row["route"], Route)
    return DecisionView(
        id=row["id"],
        title=row["title"],
        category=row["category"],
        attributes=row["attributes"],
        rationale=row["rationale"],
        client=row["client"],
        links=list(row["links"]),
        filed_by=row["filed_by"],
        squad=row["squad"],
        tier=row["tier"],
        route=route,
        status=row["status"],
        explanation=_explanation(policy, row),
        approvals=[
            ApprovalView(
                approver=a["approver"],
                verdict=a["verdict"],
                role=a["role"],
                reason=a["reason"],
                at=parse_at(a["at"]),
                on_behalf_of=a.get("on_behalf_of"),
                dismissed=bool(a.get("dismissed")),
            )
            for a in row["approvals"]
        ],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        decided_at=row["decided_at"],
        seq=row["filed_seq"],
        policy_version=row["policy_version"],
        supersedes=row.get("supersedes"),
        superseded_by=row.get("superseded_by"),
        break_glass_reason=row.get("break_glass_reason"),
        missing=missing(route, state_of(row).votes) if row["status"] in OPEN_STATUSES else None,
        approver_groups=approver_groups(policy, route),
    )


def event_view(row: Mapping[str, Any]) -> EventView:
    body = msgspec.json.decode(row["body"])
    return EventView(
        seq=row["seq"],
        type=row["type"],
        actor=row["actor"],
        at=row["at"],
        decision_id=row["decision_id"],
        data=body["data"],
        leaf_hash=row["leaf_hash"],
        prev_hash=row["prev_hash"],
    )


def decision_detail(policy: Policy, row: Mapping[str, Any], events: list[EventView]) -> DecisionDetail:
    view = decision_view(policy, row)
    return DecisionDetail(**{f: getattr(view, f) for f in view.__struct_fields__}, events=events)


def classification_view(policy: Policy, result: Classification, route: Route) -> ClassificationView:
    rules = [MatchedRuleView(id=r.id, tier=r.tier, description=r.description) for r in result.matched_rules]
    name = tier_name(policy, result.tier)
    return ClassificationView(
        category=result.category,
        tier=result.tier,
        tier_name=name,
        attributes=result.attributes,
        route=route,
        approver_groups=approver_groups(policy, route),
        explanation=Explanation(
            base_tier=result.base_tier,
            matched_rules=rules,
            policy_version=result.policy_version,
            known_category=result.known_category,
            summary=explanation_summary(
                result.tier, name, result.base_tier, rules, result.known_category, result.category
            ),
        ),
    )
