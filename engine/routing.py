"""Routing (pure): who may approve a classified decision."""

from __future__ import annotations

from collections.abc import Iterable

from engine.types import Route
from policy.compiled import Person, Policy, Tier

#: Why the filer may not sign off their own decision: in their own right or on anyone's behalf.
FILER_REFUSAL = "you filed this decision; its approver must be someone else"


def route_for(policy: Policy, tier_number: int, filer: str) -> Route:
    """Who may sign off a tier-`tier_number` decision `filer` files: never the filer, whatever the tier's
    `exclude_filer` says (the loader refuses `false`; a Policy built past it changes nothing here)."""
    tier = policy.tiers[tier_number]
    if tier.self_approved or tier.approvers is None:
        return Route(tier=tier_number, role=None, count=0, exclude_filer=False, approvers=[])
    rule = tier.approvers
    roles = rule.all_roles
    names = policy.approver_names(roles)  # sorted, so the filtered list is too
    return Route(
        tier=tier_number,
        role=rule.role,
        count=rule.count,
        exclude_filer=True,
        approvers=[name for name in names if name != filer],
        roles=list(roles),
        distinct=rule.distinct,
    )


def approver_groups(policy: Policy, route: Route) -> list[str]:
    """The identity provider's groups whose members may sign off this route, in the policy's order.

    Only when the policy lets approver roles come from groups (`identity.approver_roles_from_idp`):
    members are known only from their claims when they sign in, so anything that lists who may
    approve names the group beside the directory's people (`route.approvers`).
    """
    if route.role is None:
        return []
    return groups_giving(policy, route.roles or [route.role])


def groups_giving(policy: Policy, roles: Iterable[str]) -> list[str]:
    identity = policy.identity
    if not identity.approver_roles_from_idp:
        return []
    wanted = frozenset(roles)
    return [group for group, grant in identity.groups.items() if grant.roles & wanted]


def eligibility_refusal(tier: Tier, route: Route, filer: str, actor: Person) -> str | None:
    """Why `actor` may not give a verdict on this decision in their own right, or None when they may.
    The filer never may, whatever `route.exclude_filer` says (a route logged under an older policy)."""
    if route.role is None:
        return f"tier {tier.number} ({tier.name}) decisions are resolved by the squad; there is nothing to approve"
    if actor.name == filer:
        return FILER_REFUSAL
    roles = route.roles or [route.role]
    if not actor.roles.intersection(roles):
        held = ", ".join(sorted(actor.roles)) or "no role"
        return f"tier {tier.number} ({tier.name}) needs a {' or '.join(roles)} to sign off; {actor.name} holds {held}"
    return None
