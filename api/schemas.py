"""Response Structs that only the API needs (the engine's boundary types live in engine/types.py)."""

from __future__ import annotations

from typing import Any, Literal

from msgspec import Struct

from policy.compiled import Policy


class FieldView(Struct, kw_only=True):
    name: str
    type: str
    required: bool
    default: Any = None
    enum: list[Any] | None = None
    min: float | None = None
    max: float | None = None
    description: str | None = None


class RuleView(Struct, kw_only=True):
    id: str
    tier: int
    description: str


class CategoryView(Struct, kw_only=True):
    name: str
    description: str | None
    base_tier: int
    fields: list[FieldView]
    rules: list[RuleView]


class TierView(Struct, kw_only=True):
    number: int
    name: str
    self_approved: bool
    approver_role: str | None
    approver_count: int
    exclude_filer: bool
    review: str | None
    sla_seconds: float | None


class PolicyView(Struct, kw_only=True):
    version: str
    timezone: str
    unknown_category_tier: int
    tiers: list[TierView]
    categories: list[CategoryView]


class PersonView(Struct, kw_only=True):
    name: str
    roles: list[str]
    squad: str | None
    display_name: str | None
    #: Roles (and the squad) held because of a claim from the identity provider, with that claim:
    #: {"auditor": "groups=ml-auditors"}. Empty when the directory alone says who this is.
    authority: dict[str, str] = {}


class Health(Struct, kw_only=True, omit_defaults=True):
    status: str
    policy_version: str
    #: Why the service refuses appends (e.g. the database is behind its last signed checkpoint).
    detail: str | None = None


def policy_view(policy: Policy) -> PolicyView:
    return PolicyView(
        version=policy.version,
        timezone=policy.timezone_name,
        unknown_category_tier=policy.unknown_category_tier,
        tiers=[
            TierView(
                number=t.number,
                name=t.name,
                self_approved=t.self_approved,
                approver_role=t.approvers.role if t.approvers else None,
                approver_count=t.approvers.count if t.approvers else 0,
                exclude_filer=t.approvers is not None,  # never the filer, whatever a Policy built past the loader says
                review=t.review,
                sla_seconds=t.sla.total_seconds() if t.sla else None,
            )
            for t in sorted(policy.tiers.values(), key=lambda t: t.number)
        ],
        categories=[
            CategoryView(
                name=c.name,
                description=c.description,
                base_tier=c.base_tier,
                fields=[
                    FieldView(
                        name=f.name,
                        type=f.type,
                        required=f.required,
                        default=f.default,
                        enum=list(f.enum) if f.enum is not None else None,
                        min=f.min,
                        max=f.max,
                        description=f.description,
                    )
                    for f in c.fields.values()
                ],
                rules=[RuleView(id=r.id, tier=r.tier, description=r.description) for r in c.rules],
            )
            for c in policy.categories.values()
        ],
    )


def person_view(person: Any) -> PersonView:
    return PersonView(
        name=person.name,
        roles=sorted(person.roles),
        squad=person.squad,
        display_name=person.display_name,
        authority=dict(getattr(person, "authority", ())),
    )


class CheckpointView(Struct, kw_only=True):
    origin: str
    size: int
    root_hash: str
    #: The C2SP signed note, verbatim: save it to a file for `decisions log verify --checkpoint`.
    note: str
    key_fingerprints: list[str]


class JobStarted(Struct, kw_only=True):
    """A verification job asked of the worker."""

    kind: Literal["full", "audit"]
    #: False when a verification or replay audit is running already (its result will be stored).
    started: bool


class PublicKeyView(Struct, kw_only=True):
    #: Verifier keys, `<name>+<key id>+<base64 key>`; more than one while a key is being rotated.
    keys: list[str]
    fingerprints: list[str]
