"""From spec Structs to the compiled `Policy`, checking every cross-reference on the way.

Structure (keys, types) is msgspec's job; this module checks meaning: tiers 1 to 3 all defined,
exactly one of `approval: self` or `approvers`, durations, the time zone, review cadence names,
`$parameter` references, fields that rules read, enum and default values, that no tier lets the filer
approve their own decision (`exclude_filer: false`), and that no decision of the `policy` category
(which activates a policy) can land in a tier the squad resolves. Problems are
collected as SpecIssues (with YAML paths) so the loader can report all of them at once.
"""

from __future__ import annotations

import math
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import msgspec

from policy.attributes import make_classifier, make_validator, show, type_problem, value_problem
from policy.compiled import (
    POLICY_CATEGORY,
    ROLES,
    ApproverRule,
    Cadence,
    Category,
    Example,
    FieldDef,
    GroupGrant,
    IdentityPolicy,
    Location,
    Person,
    Policy,
    Rule,
    Tier,
)
from policy.conditions import COMBINATORS, ConditionInvalid, compile_condition
from policy.durations import DURATION_HINT, parse_duration
from policy.errors import Path, SpecIssue
from policy.spec import CategorySpec, FieldSpec, IdentitySpec, PersonSpec, PolicySpec, ReviewSpec, TierSpec
from policy.suggest import closest, did_you_mean

LANGUAGE_VERSION = 1
TIER_NUMBERS = (1, 2, 3)

Locate = Callable[[Path], Location | None]


class SpecInvalid(Exception):
    """The spec does not compile; `issues` say where (as YAML paths) and why."""

    def __init__(self, issues: list[SpecIssue]) -> None:
        self.issues = issues
        super().__init__("; ".join(f"{'.'.join(map(str, i.path))}: {i.message}" for i in issues))


@dataclass(frozen=True, slots=True)
class Broken:
    """Names that exist in the file but failed their structural checks (already reported):
    references to them are not reported a second time."""

    parameters: frozenset[str] = frozenset()
    reviews: frozenset[str] = frozenset()
    tiers: frozenset[int] = frozenset()
    categories: frozenset[str] = frozenset()


def compile_policy(
    spec: PolicySpec,
    *,
    version: str,
    source: str,
    locate: Locate | None = None,
    written: frozenset[str] | None = None,
) -> Policy:
    """The compiled policy; raises SpecInvalid listing every problem. `written`: the top-level keys the
    file gives (the rest took their defaults), to point at what is written; None: every key."""
    pieces = {f: getattr(spec, f) for f in spec.__struct_fields__}
    policy, issues = compile_pieces(pieces, version=version, source=source, locate=locate, written=written)
    if issues or policy is None:
        raise SpecInvalid(issues)
    return policy


def compile_pieces(
    pieces: Mapping[str, Any],
    *,
    version: str,
    source: str,
    locate: Locate | None = None,
    broken: Broken = Broken(),
    written: frozenset[str] | None = None,
) -> tuple[Policy | None, list[SpecIssue]]:
    """Compile whichever top-level pieces converted; the policy is None when anything is wrong.

    Used directly by the loader when some pieces failed structurally, so that problems in the
    rest are still found in the same pass.
    """
    builder = _Builder(locate or (lambda _path: None), broken, frozenset(pieces) if written is None else written)
    policy = builder.build(pieces, version=version, source=source)
    return (policy if not builder.issues else None), builder.issues


@dataclass
class _Builder:
    locate: Locate
    broken: Broken
    #: The top-level keys the file gives.
    written: frozenset[str] = frozenset()
    issues: list[SpecIssue] = field(default_factory=list)

    def problem(self, path: Path, message: str, hint: str | None = None, on_key: bool = False) -> None:
        self.issues.append(SpecIssue(path, message, hint, on_key))

    def build(self, pieces: Mapping[str, Any], *, version: str, source: str) -> Policy | None:
        language = pieces.get("version", LANGUAGE_VERSION)
        if language != LANGUAGE_VERSION:
            self.problem(
                ("version",),
                f"policy language version {language} is not supported",
                f"write `version: {LANGUAGE_VERSION}`",
            )
        zone_name = pieces.get("timezone", "UTC")
        zone = self.timezone(zone_name)
        parameters = self.parameters(pieces.get("parameters", {}))
        people = {name: self.person(name, p) for name, p in pieces.get("people", {}).items()}
        cadences = {name: c for name, r in pieces.get("reviews", {}).items() if (c := self.cadence(name, r))}
        tiers = self.tiers(pieces.get("tiers", {}), pieces.get("reviews", {}), "tiers" in pieces)
        self.escalations(tiers, pieces.get("people", {}))
        categories = {
            name: compiled
            for name, spec in pieces.get("categories", {}).items()
            if (compiled := self.category(name, spec, parameters, version))
        }
        self.policy_needs_sign_off(pieces, tiers)
        baseline = None
        metrics = pieces.get("metrics")
        if metrics is not None and metrics.baseline is not None:
            start, end = metrics.baseline.start, metrics.baseline.end
            if start > end:
                self.problem(
                    ("metrics", "baseline", "end"),
                    f"the baseline ends ({end}) before it starts ({start})",
                    "swap start and end",
                )
            baseline = (start, end)
        identity = self.identity(pieces.get("identity"), people, tiers)
        if self.issues or zone is None:
            return None
        return Policy(
            version=version,
            source=source,
            timezone_name=zone_name,
            timezone=zone,
            parameters=parameters,
            people=people,
            tiers=tiers,
            cadences=cadences,
            categories=categories,
            unknown_category_tier=pieces.get("unknown_category_tier", 3),
            baseline=baseline,
            director_minutes_per_item=metrics.director_minutes_per_item if metrics is not None else None,
            identity=identity,
        )

    def policy_needs_sign_off(self, pieces: Mapping[str, Any], tiers: Mapping[int, Tier]) -> None:
        """A `policy` decision activates the candidate policy it names when it closes, so no input may land
        it in a tier the squad resolves (`approval: self`): any squad member could then activate a policy of
        their choosing. Rules only raise a tier (max of base_tier and every matching rule), and a decision
        that supersedes another takes at least the tier of what it replaces (engine.lifecycle, at filing and
        at each amendment's re-classification), so the tiers a `policy` decision can land in are its floor
        (base_tier, or unknown_category_tier when the category is not declared) and every tier above it,
        whatever the attributes. Each entry that makes a squad tier reachable is reported where written, and
        so is a `policy` rule naming a squad tier below the floor (it could never apply, but says the squad
        may activate policies)."""
        squad = {number: tier for number, tier in tiers.items() if tier.self_approved}
        if not squad or "categories" not in pieces or POLICY_CATEGORY in self.broken.categories:
            return  # nothing the squad resolves, or the category is broken and already reported
        harm = "any squad member could activate a policy of their choosing"
        spec: CategorySpec | None = pieces["categories"].get(POLICY_CATEGORY)
        reported: set[int] = set()
        if spec is not None:
            floor = spec.base_tier
            here: Path = ("categories", POLICY_CATEGORY)
            if floor in squad:
                self.problem(
                    (*here, "base_tier"),
                    f"a `policy` decision activates the policy it names, and base_tier {floor} "
                    f"({squad[floor].name}) is resolved by the squad without sign-off: {harm}",
                    "give `policy` a tier that needs approvers (the default policy uses base_tier: 3)",
                )
                reported.add(floor)
            for i, rule in enumerate(spec.rules):
                if rule.tier not in squad:
                    continue
                name = squad[rule.tier].name
                if rule.tier > floor:
                    message = f"rule '{rule.id}' raises a `policy` decision to tier {rule.tier} ({name}), "
                    message += f"which the squad resolves without sign-off: {harm}"
                    reported.add(rule.tier)
                else:
                    # Dead (rules only raise), but its only meaning is "the squad may activate policies".
                    message = f"rule '{rule.id}' gives a `policy` decision tier {rule.tier} ({name}), which the "
                    message += "squad resolves without sign-off; rules only raise a tier, so it could never apply, "
                    message += "but a `policy` decision is never the squad's to resolve"
                self.problem(
                    (*here, "rules", i, "tier"),
                    message,
                    f"delete the rule, or point it at a tier that needs approvers (not tier {rule.tier})",
                )
        else:
            given = "unknown_category_tier" in self.written
            floor = pieces.get("unknown_category_tier", 3)
            if floor in squad:
                self.problem(
                    ("unknown_category_tier",) if given else ("tiers", floor, "approval"),
                    f"no `policy` category is declared, so a `policy` decision falls to unknown_category_tier "
                    f"{floor}{'' if given else ' (the default)'} ({squad[floor].name}), which the squad resolves "
                    f"without sign-off",
                    "declare a `policy` category whose base_tier needs approvers (see the default policies.yaml), "
                    "or set unknown_category_tier to a tier that needs approvers",
                )
                reported.add(floor)
        for number, tier in sorted(squad.items()):
            if number > floor and number not in reported:
                self.problem(
                    ("tiers", number, "approval"),
                    f"tier {number} ({tier.name}) is resolved by the squad, and a `policy` decision lands in it "
                    f"by superseding a tier-{number} decision (a replacement needs at least the tier of what it "
                    f"replaces): {harm}",
                    f"give tier {number} `approvers`: every tier from the one a `policy` decision starts in "
                    f"({floor}) up must need sign-off",
                )

    def timezone(self, name: str) -> zoneinfo.ZoneInfo | None:
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            guess = closest(name, zoneinfo.available_timezones())
            hint = f"did you mean '{guess}'?" if guess else "use an IANA time zone name such as America/Los_Angeles"
            self.problem(("timezone",), f"unknown time zone '{name}'", hint)
            return None

    def parameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        for name, value in values.items():
            if isinstance(value, float) and not math.isfinite(value):
                self.problem(
                    ("parameters", name), f"parameter '{name}' is {show(value)}", "thresholds must be finite numbers"
                )
        return dict(values)

    def person(self, name: str, spec: PersonSpec) -> Person:
        if not spec.roles:
            self.problem(
                ("people", name, "roles"), f"'{name}' holds no role", "give at least one role, e.g. [squad_member]"
            )
        return Person(
            name, frozenset(spec.roles), spec.squad, spec.display_name, spec.email, spec.subject, slack=spec.slack
        )

    def identity(
        self, spec: IdentitySpec | None, people: Mapping[str, Person], tiers: Mapping[int, Tier]
    ) -> IdentityPolicy:
        spec = spec or IdentitySpec()
        # A claim value that names two people would make sign-in depend on dictionary order.
        seen: dict[str, str] = {}
        for name, person in people.items():
            value = person.email.casefold() if spec.match == "email" and person.email else person.subject
            if value is None:
                continue
            if value in seen:
                self.problem(
                    ("people", name, "email" if spec.match == "email" else "subject"),
                    f"'{name}' and '{seen[value]}' share the {spec.match} '{value}' that sign-in matches on",
                    "give every person their own, or match on the other claim",
                )
            seen.setdefault(value, name)
        approver_roles = {r for t in tiers.values() if t.approvers is not None for r in t.approvers.all_roles}
        groups: dict[str, GroupGrant] = {}
        for group, grant in spec.groups.items():
            path: Path = ("identity", "groups", group)
            if not grant.roles and grant.squad is None:
                self.problem(path, f"group '{group}' gives nothing", "give it `roles: [...]`, a `squad:`, or remove it")
            from_idp = sorted(set(grant.roles) & approver_roles)
            if from_idp and not spec.approver_roles_from_idp:
                self.problem(
                    (*path, "roles"),
                    f"group '{group}' would give {', '.join(from_idp)}, which signs off decisions",
                    "approver roles come from `people:` unless `identity.approver_roles_from_idp: true`",
                )
            groups[group] = GroupGrant(frozenset(grant.roles), grant.squad)
        for client in spec.services:
            if client in people:
                self.problem(
                    ("identity", "services", client),
                    f"service client '{client}' has the name of a person in `people:`",
                    "a machine and a person must not share a name in the log",
                    on_key=True,
                )
        return IdentityPolicy(
            match=spec.match,
            groups_claim=spec.groups_claim,
            approver_roles_from_idp=spec.approver_roles_from_idp,
            groups=groups,
            services=frozenset(spec.services),
        )

    def duration(self, text: str, path: Path) -> timedelta | None:
        try:
            return parse_duration(text)
        except ValueError as exc:
            self.problem(path, str(exc), DURATION_HINT)
            return None

    def cadence(self, name: str, spec: ReviewSpec) -> Cadence | None:
        every = self.duration(spec.every, ("reviews", name, "every"))
        if every is None:
            return None
        if every % timedelta(days=1):
            self.problem(
                ("reviews", name, "every"),
                f"review windows must last whole days, not {spec.every}",
                "write e.g. 1w, 2w or 7d",
            )
            return None
        return Cadence(name, every, spec.anchor, spec.title)

    def tiers(self, specs: Mapping[int, TierSpec], reviews: Mapping[str, ReviewSpec], given: bool) -> dict[int, Tier]:
        missing = [n for n in TIER_NUMBERS if n not in specs and n not in self.broken.tiers]
        if missing and given:
            listed = ", ".join(map(str, missing))
            self.problem(
                ("tiers",),
                f"tier{'s' if len(missing) > 1 else ''} {listed} not defined",
                "define tiers 1, 2 and 3: every decision lands in one of them",
            )
        out: dict[int, Tier] = {}
        for number, spec in sorted(specs.items()):
            path: Path = ("tiers", number)
            if (spec.approval is None) == (spec.approvers is None):
                both = spec.approval is not None
                self.problem(
                    path,
                    f"tier {number} has {'both' if both else 'neither'} `approval: self` "
                    f"{'and' if both else 'nor'} `approvers`",
                    "give exactly one: `approval: self` (the squad resolves it) or `approvers: {role: tech_pm}`",
                )
            if spec.review is not None and spec.review not in reviews and spec.review not in self.broken.reviews:
                self.problem(
                    (*path, "review"),
                    f"unknown review cadence '{spec.review}'",
                    did_you_mean(spec.review, reviews, what="a cadence declared under `reviews`"),
                )
            sla = self.duration(spec.sla, (*path, "sla")) if spec.sla is not None else None
            approvers = None
            if spec.approvers is not None:
                a = spec.approvers
                if (a.role is None) == (a.roles is None or not a.roles):
                    self.problem(
                        (*path, "approvers"),
                        f"tier {number}'s approvers need exactly one of `role` and `roles`",
                        "write `role: tech_pm`, or `roles: [tech_pm, director]` with `distinct: role`",
                    )
                roles = tuple(a.roles) if a.roles else ((a.role,) if a.role else ())
                if a.distinct == "role" and a.count > len(roles):
                    self.problem(
                        (*path, "approvers", "count"),
                        f"tier {number} wants {a.count} approvals with distinct roles but lists {len(roles)} role(s)",
                        "list at least as many roles as the count, or use `distinct: person`",
                    )
                if not a.exclude_filer:
                    self.problem(
                        (*path, "approvers", "exclude_filer"),
                        f"tier {number} says `exclude_filer: false`, but the filer never approves their own "
                        "decision, whatever the policy says: not in their own right, not on anyone's behalf",
                        "delete `exclude_filer` (it is always true); for decisions the squad settles itself, "
                        "give the tier `approval: self` instead of `approvers`",
                    )
                approvers = ApproverRule(roles[0] if roles else "", a.count, True, roles, a.distinct)
            break_glass = spec.break_glass if spec.break_glass is not None else number == 2
            glass_roles = (
                frozenset(spec.break_glass_roles)
                if spec.break_glass_roles
                else frozenset({"squad_member", "tech_pm", "director", "admin"})
            )
            out[number] = Tier(
                number,
                spec.name,
                spec.approval == "self",
                approvers,
                spec.review,
                sla,
                spec.invalidate_on_amend,
                spec.delegation,
                break_glass,
                glass_roles,
                self.reminders(path, spec, sla),
                spec.escalate_to,
            )
        return out

    def reminders(self, path: Path, spec: TierSpec, sla: timedelta | None) -> tuple[float, ...]:
        if not spec.remind:
            return ()
        if spec.sla is None:
            self.problem(
                (*path, "remind"), "reminders are fractions of the SLA, and this tier has no `sla`", "add `sla: 3d`"
            )
            return ()
        fractions = []
        for i, text in enumerate(spec.remind):
            value = float(text.rstrip("%")) / 100
            if not 0 < value < 1:
                self.problem(
                    (*path, "remind", i),
                    f"a reminder at {text} is not before the SLA",
                    "use a percentage between 0% and 100%; `escalate_to` covers what happens after",
                )
            fractions.append(value)
        return tuple(sorted(set(fractions)))

    def escalations(self, tiers: Mapping[int, Tier], people: Mapping[str, Any]) -> None:
        for number, tier in tiers.items():
            target = tier.escalate_to
            if target is None or target in ROLES or target in people:
                continue
            self.problem(
                ("tiers", number, "escalate_to"),
                f"`escalate_to: {target}` is neither a role nor a person of the directory",
                did_you_mean(target, [*ROLES, *people], what="a role or a person under `people`"),
            )

    def category(self, name: str, spec: CategorySpec, parameters: Mapping[str, Any], version: str) -> Category | None:
        path: Path = ("categories", name)
        before = len(self.issues)
        fields = {fname: self.field_def((*path, "fields", fname), fname, f) for fname, f in spec.fields.items()}
        rules = self.rules(path, spec, fields, parameters)
        examples = tuple(
            Example(e.attributes, e.tier, self.locate((*path, "examples", i))) for i, e in enumerate(spec.examples)
        )
        if len(self.issues) > before:
            return None
        return Category(
            name=name,
            description=spec.description,
            fields=fields,
            base_tier=spec.base_tier,
            rules=rules,
            examples=examples,
            location=self.locate(path),
            validator=make_validator(name, fields),
            classifier=make_classifier(name, fields, spec.base_tier, rules, version),
        )

    def rules(
        self, path: Path, spec: CategorySpec, fields: Mapping[str, FieldDef], parameters: Mapping[str, Any]
    ) -> tuple[Rule, ...]:
        seen: dict[str, int] = {}
        rules = []
        broken_parameters = self.broken.parameters - parameters.keys()
        for i, rule in enumerate(spec.rules):
            rule_path: Path = (*path, "rules", i)
            if rule.id in seen:
                self.problem(
                    (*rule_path, "id"),
                    f"rule id '{rule.id}' is already used by rule {seen[rule.id] + 1}",
                    "give every rule of a category its own id",
                )
            seen.setdefault(rule.id, i)
            try:
                condition = compile_condition(
                    rule.when, fields, parameters, broken_names=broken_parameters, prefix=f"_r{i}_"
                )
            except ConditionInvalid as exc:
                for issue in exc.issues:
                    self.issues.append(
                        SpecIssue((*rule_path, "when", *issue.path), issue.message, issue.hint, issue.on_key)
                    )
                continue
            rules.append(
                Rule(
                    id=rule.id,
                    tier=rule.tier,
                    description=rule.description or condition.description,
                    reads=condition.reads,
                    matches=condition.matches,
                    location=self.locate(rule_path),
                    source=condition.source,
                    constants=condition.constants,
                    local_source=condition.local_source,
                )
            )
        return tuple(rules)

    def field_def(self, path: Path, name: str, spec: FieldSpec) -> FieldDef:
        if name in COMBINATORS:
            self.problem(
                path,
                f"'{name}' cannot be a field name: conditions use it for {name}: [..]",
                "rename the field",
                on_key=True,
            )
        enum = tuple(spec.enum) if spec.enum is not None else None
        kind = spec.type
        if enum is not None:
            if not enum:
                self.problem((*path, "enum"), "empty enum: no value could ever be valid", "list the allowed values")
            # A list field's enum constrains its items, which may be of any type.
            for i, value in enumerate(enum if kind != "list" else ()):
                problem = type_problem(kind, value)
                if problem is not None:
                    self.problem((*path, "enum", i), f"enum value {problem}", _yaml_hint(kind))
        for bound in ("min", "max"):
            if getattr(spec, bound) is not None and kind not in ("number", "integer"):
                self.problem(
                    (*path, bound),
                    f"'{bound}' applies to number and integer fields, not {kind}",
                    f"remove `{bound}` or change the type",
                )
        if spec.min is not None and spec.max is not None and spec.min > spec.max:
            self.problem((*path, "min"), f"min ({show(spec.min)}) is above max ({show(spec.max)})", "swap them")
        definition = FieldDef(
            name=name,
            type=kind,
            required=spec.required,
            default=None if spec.default is msgspec.UNSET else spec.default,
            enum=enum,
            min=spec.min,
            max=spec.max,
            description=spec.description,
            material=spec.material,
            label=spec.label,
            unit=spec.unit,
        )
        if spec.default is not msgspec.UNSET:
            if spec.required:
                self.problem(
                    (*path, "default"),
                    "a required field with a default can never be missing",
                    "remove `default`, or `required: true`",
                )
            elif spec.default is None:
                self.problem((*path, "default"), "a default of null is the same as no default", "remove `default`")
            else:
                problem = value_problem(definition, spec.default)
                if problem is not None:
                    self.problem((*path, "default"), f"default {problem}", _yaml_hint(kind))
        return definition


def _yaml_hint(kind: str) -> str:
    if kind == "string":
        return "quote values that YAML would read as numbers, dates or true/false"
    if kind == "boolean":
        return "write true or false"
    return f"write a value of type {kind}"
