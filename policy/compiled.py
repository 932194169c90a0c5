"""The compiled policy: what the rest of the service reads.

The YAML is parsed into the spec Structs of `policy.spec`, checked, and compiled
into these frozen objects once, at load. Nothing here does I/O; conditions are
plain callables so classification never interprets the YAML per request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import msgspec

FieldType = Literal["number", "integer", "string", "boolean", "list"]

#: The roles the service knows. Permissions in the API are expressed with them.
ROLES: tuple[str, ...] = ("squad_member", "tech_pm", "director", "auditor", "admin")
#: The category whose decisions activate the candidate policy they name (engine.lifecycle `_activation`):
#: the compiler refuses a policy under which one could land in a tier the squad resolves.
POLICY_CATEGORY = "policy"


@dataclass(frozen=True, slots=True)
class Location:
    """Where something was written in the policy file (1-based line and column)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    roles: frozenset[str]
    squad: str | None = None
    display_name: str | None = None
    email: str | None = None
    #: The identity provider's subject (`sub`) for this person, when the policy matches on it.
    subject: str | None = None
    #: Roles this person holds because of a claim, not the directory: (role, claim) pairs such as
    #: ("tech_pm", "groups=eng-pms"). Empty for people acting on the directory's word alone.
    authority: tuple[tuple[str, str], ...] = ()
    #: Slack member id (U...): where approval requests are sent, and who a Slack click acts as.
    slack: str | None = None

    def has_role(self, role: str) -> bool:
        return role in self.roles


@dataclass(frozen=True, slots=True)
class GroupGrant:
    """What membership of one identity-provider group gives."""

    roles: frozenset[str] = frozenset()
    squad: str | None = None


@dataclass(frozen=True, slots=True)
class IdentityPolicy:
    """How signed-in people and machine clients map onto the directory (the policy's `identity:`)."""

    #: `email` or `sub`: the claim that names a directory person.
    match: str = "email"
    groups_claim: str = "groups"
    approver_roles_from_idp: bool = False
    #: Group name -> grant, in the order the policy writes them.
    groups: Mapping[str, GroupGrant] = field(default_factory=dict)
    #: Client ids allowed as service accounts.
    services: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ApproverRule:
    """Who must sign off: `count` approvals from holders of `roles`, differing in `distinct`."""

    role: str
    count: int = 1
    #: Always True from the loader (`exclude_filer: false` is refused), and read by nothing that decides:
    #: the rules never let the filer sign off, whatever this says (engine.routing, engine.lifecycle).
    exclude_filer: bool = True
    #: Every role that may sign off (`role` is the first).
    roles: tuple[str, ...] = ()
    distinct: str = "person"

    @property
    def all_roles(self) -> tuple[str, ...]:
        return self.roles or (self.role,)


@dataclass(frozen=True, slots=True)
class Tier:
    number: int
    name: str
    #: True for tiers resolved by the squad at filing (no approver).
    self_approved: bool
    approvers: ApproverRule | None
    review: str | None
    sla: timedelta | None
    invalidate_on_amend: str = "when_material"
    delegation: bool = True
    break_glass: bool = False
    break_glass_roles: frozenset[str] = frozenset({"squad_member", "tech_pm", "director", "admin"})
    #: Fractions of the SLA (0 < f < 1, ascending) at which the awaited approvers are reminded.
    remind: tuple[float, ...] = ()
    #: A role or a person's name: who is told, and sees it in their inbox, once the SLA has passed.
    escalate_to: str | None = None


@dataclass(frozen=True, slots=True)
class Cadence:
    """A review window cadence: windows of `every` starting at local midnight of `anchor`."""

    name: str
    every: timedelta
    anchor: date
    title: str | None = None

    @property
    def display(self) -> str:
        return self.title or self.name.replace("_", " ")


@dataclass(frozen=True, slots=True)
class FieldDef:
    name: str
    type: FieldType
    required: bool = False
    default: Any = None
    enum: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    description: str | None = None
    #: False when the policy declares a change of this field immaterial: approvals survive it.
    material: bool = True
    label: str | None = None
    unit: str | None = None

    @property
    def display(self) -> str:
        """The field in words, with its unit: what people read instead of the id."""
        name = self.label or self.name
        return f"{name} ({self.unit})" if self.unit else name


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid attribute: `path` is a JSON path such as `$.attributes.risk_score`."""

    path: str
    message: str


class AttributesInvalid(ValueError):
    """Raised by `Category.validate` with every problem found, not just the first."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.path}: {e.message}" for e in errors))


@dataclass(frozen=True, slots=True)
class MatchedRule:
    """A rule as a classification's explanation shows it."""

    id: str
    tier: int
    description: str


class Classification(msgspec.Struct, frozen=True, gc=False):
    """A msgspec Struct, not a frozen dataclass: built once per decision, its construction is on the hot path.

    gc=False: nothing a classification holds can refer back to it, so it can never be part of a
    reference cycle, and leaving it untracked saves the collector's bookkeeping per decision.
    """

    category: str
    tier: int
    base_tier: int
    #: Every rule that matched, in the order they are written in the policy.
    matched_rules: tuple[MatchedRule, ...]
    policy_version: str
    known_category: bool
    #: The validated attributes, defaults filled in (passed through as given for unknown categories).
    attributes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    tier: int
    #: Plain-words description for explanations; generated from the condition when not given.
    description: str
    #: The attribute names the condition reads (for static analysis and amend logic).
    reads: frozenset[str]
    matches: Callable[[Mapping[str, Any]], bool]
    location: Location | None = None
    #: `matches` as an expression over `a` and the names in `constants` (see policy.conditions).
    source: str | None = field(default=None, compare=False, repr=False)
    constants: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    #: `source` reading field i from the local `f_i` (see policy.conditions.Condition.local_source).
    local_source: str | None = field(default=None, compare=False, repr=False)
    #: This rule as explanations show it: built once and shared, so classifying allocates less.
    as_matched: MatchedRule = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "as_matched", MatchedRule(self.id, self.tier, self.description))


@dataclass(frozen=True, slots=True)
class Example:
    attributes: Mapping[str, Any]
    tier: int
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    description: str | None
    fields: Mapping[str, FieldDef]
    base_tier: int
    rules: tuple[Rule, ...]
    examples: tuple[Example, ...] = ()
    location: Location | None = None
    #: Validates and normalises attributes (defaults filled in, integers kept as int);
    #: raises AttributesInvalid listing every problem. Set by the compiler.
    validator: Callable[[Mapping[str, Any]], dict[str, Any]] = field(
        default=lambda attrs: dict(attrs), compare=False, repr=False
    )
    #: Validation, rules and result in one generated function (raises AttributesInvalid). Set by the compiler.
    classifier: Callable[[Mapping[str, Any]], Classification] | None = field(default=None, compare=False, repr=False)

    def validate(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        return self.validator(attributes)


@dataclass(frozen=True, slots=True)
class Policy:
    #: The content hash (sha256 hex of the file's bytes): the policy's version.
    version: str
    source: str
    timezone_name: str
    timezone: ZoneInfo
    parameters: Mapping[str, Any]
    people: Mapping[str, Person]
    tiers: Mapping[int, Tier]
    cadences: Mapping[str, Cadence]
    categories: Mapping[str, Category]
    unknown_category_tier: int
    #: Optional (start, end) dates of the period escalation metrics compare against.
    baseline: tuple[date, date] | None = None
    #: Minutes of the director's time per escalated item (the effect report's estimate); None: its default.
    director_minutes_per_item: float | None = None
    identity: IdentityPolicy = field(default_factory=IdentityPolicy)
    #: Each category's generated classifier by name: one dict lookup per classification.
    classifiers: Mapping[str, Callable[[Mapping[str, Any]], Classification]] = field(
        init=False, compare=False, repr=False
    )
    #: Names of the people holding any of a tuple of roles, sorted, by that tuple (see approver_names).
    _approver_names: dict[tuple[str, ...], tuple[str, ...]] = field(
        init=False, compare=False, repr=False, default_factory=dict
    )

    #: Each category's rules' `reads`, sorted, by rule id (see rule_reads).
    _rule_reads: dict[str, dict[str, tuple[str, ...]]] = field(
        init=False, compare=False, repr=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        found = {name: c.classifier for name, c in self.categories.items() if c.classifier is not None}
        object.__setattr__(self, "classifiers", found)

    @property
    def approver_roles(self) -> frozenset[str]:
        """Every role that signs off decisions in some tier."""
        return frozenset(r for t in self.tiers.values() if t.approvers is not None for r in t.approvers.all_roles)

    def people_with_role(self, role: str) -> list[Person]:
        return [p for p in self.people.values() if role in p.roles]

    def people_with_any_role(self, roles: tuple[str, ...]) -> list[Person]:
        return [p for p in self.people.values() if p.roles.intersection(roles)]

    def rule_reads(self, category: str) -> Mapping[str, tuple[str, ...]]:
        """The attribute names each rule of `category` reads, sorted, by rule id (empty: no such category)."""
        reads = self._rule_reads.get(category)
        if reads is None:
            spec = self.categories.get(category)
            reads = {r.id: tuple(sorted(r.reads)) for r in spec.rules} if spec is not None else {}
            self._rule_reads[category] = reads
        return reads

    def approver_names(self, roles: tuple[str, ...]) -> tuple[str, ...]:
        """The sorted names of `people_with_any_role(roles)`, worked out once per policy and tuple of
        roles (a policy's directory never changes: a new directory is a new policy version)."""
        names = self._approver_names.get(roles)
        if names is None:
            names = tuple(sorted(p.name for p in self.people_with_any_role(roles)))
            self._approver_names[roles] = names
        return names
