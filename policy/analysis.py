"""Static analysis of a policy that loads: what it can never do, and who can never approve.

Works on the raw YAML (for conditions and locations) beside the compiled policy (for
the directory, tiers and examples). Conjunctions are analysed exactly; `any`/`not`
branches are left alone, so a finding is never a false alarm, only sometimes missed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from policy.compiled import Location, Policy
from policy.errors import Path
from policy.yaml_source import parse_yaml, position_of

Severity = Literal["error", "warning", "info"]
FILING_ROLES = frozenset({"squad_member", "tech_pm", "director", "admin"})


class Finding(msgspec.Struct, kw_only=True):
    severity: Severity
    code: str
    file: str
    line: int
    column: int
    message: str
    hint: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message} [{self.code}] {self.hint}"


@dataclass
class _Bounds:
    low: float = -math.inf
    low_open: bool = False
    high: float = math.inf
    high_open: bool = False
    equals: list[Any] | None = None
    members: set[Any] | None = None

    def empty(self) -> bool:
        if self.low > self.high or (self.low == self.high and (self.low_open or self.high_open)):
            return True
        return bool(self.members is not None and not self.members)


def _atoms(when: Any) -> Iterator[tuple[str, str, Any]]:
    """(field, operator, value) of the conjunctive part of a condition."""
    if not isinstance(when, Mapping):
        return
    for key, value in when.items():
        if key == "all" and isinstance(value, list):
            for part in value:
                yield from _atoms(part)
        elif key in ("any", "not"):
            continue
        elif isinstance(value, Mapping):
            for op, operand in value.items():
                yield key, str(op), operand
        else:
            yield key, "eq", value


def _resolve(value: Any, parameters: Mapping[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("$"):
        return parameters.get(value[1:], value)
    if isinstance(value, list):
        return [_resolve(v, parameters) for v in value]
    return value


def _contradiction(when: Any, fields: Mapping[str, Any], parameters: Mapping[str, Any]) -> str | None:
    bounds: dict[str, _Bounds] = {}
    for field, op, raw in _atoms(when):
        value = _resolve(raw, parameters)
        b = bounds.setdefault(field, _Bounds())
        definition = fields.get(field)
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if op in ("gt", "gte") and numeric:
            if value > b.low or (value == b.low and op == "gt"):
                b.low, b.low_open = float(value), op == "gt"
        elif op in ("lt", "lte") and numeric:
            if value < b.high or (value == b.high and op == "lt"):
                b.high, b.high_open = float(value), op == "lt"
        elif op == "eq":
            if numeric:
                for bound_op in ("gte", "lte"):
                    if bound_op == "gte" and value > b.low:
                        b.low, b.low_open = float(value), False
                    if bound_op == "lte" and value < b.high:
                        b.high, b.high_open = float(value), False
            allowed = {value}
            b.members = allowed if b.members is None else b.members & allowed
        elif op == "in" and isinstance(value, list) and all(isinstance(v, str | int | float | bool) for v in value):
            listed = set(value)
            b.members = listed if b.members is None else b.members & listed
        if definition is not None:
            if definition.min is not None and definition.min > b.low:
                b.low, b.low_open = float(definition.min), False
            if definition.max is not None and definition.max < b.high:
                b.high, b.high_open = float(definition.max), False
            if definition.enum is not None and b.members is not None:
                b.members &= set(definition.enum)
        if b.members is not None:
            numbers = [m for m in b.members if isinstance(m, int | float) and not isinstance(m, bool)]
            if numbers and len(numbers) == len(b.members):
                b.members = {
                    m
                    for m in numbers
                    if (m > b.low or (m == b.low and not b.low_open))
                    and (m < b.high or (m == b.high and not b.high_open))
                }
        if b.empty():
            return f"no value of {field} satisfies every bound the rule (and the field's declaration) sets"
    return None


def _parameter_refs(value: Any) -> Iterator[str]:
    if isinstance(value, str) and value.startswith("$"):
        yield value[1:]
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _parameter_refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _parameter_refs(item)


def analyse(policy: Policy, text: str) -> list[Finding]:
    """Every finding, most severe first, then in file order."""
    from engine.classify import run_examples  # the examples are classified by the engine

    document = parse_yaml(text)
    data: Mapping[str, Any] = document.data if isinstance(document.data, Mapping) else {}
    file = policy.source
    findings: list[Finding] = []

    def add(severity: Severity, code: str, path: Path, message: str, hint: str, on_key: bool = True) -> None:
        line, column = position_of(document.root, path, on_key=on_key)
        findings.append(
            Finding(severity=severity, code=code, file=file, line=line, column=column, message=message, hint=hint)
        )

    used_parameters: set[str] = set()
    for name, category in policy.categories.items():
        raw_category = data.get("categories", {}).get(name, {})
        raw_rules = raw_category.get("rules", []) if isinstance(raw_category, Mapping) else []
        read_by_rules: set[str] = set()
        for index, rule in enumerate(category.rules):
            raw_when = raw_rules[index].get("when", {}) if index < len(raw_rules) else {}
            used_parameters.update(_parameter_refs(raw_when))
            read_by_rules |= rule.reads
            path: Path = ("categories", name, "rules", index)
            reason = _contradiction(raw_when, category.fields, policy.parameters)
            if reason is not None:
                add(
                    "error",
                    "rule-never-matches",
                    (*path, "when"),
                    f"rule {rule.id} can never match: {reason}",
                    "fix the bounds, or delete the rule",
                    on_key=False,
                )
            if rule.tier <= category.base_tier:
                add(
                    "warning",
                    "rule-cannot-change-tier",
                    (*path, "tier"),
                    f"rule {rule.id} gives tier {rule.tier}, but {name} starts at tier {category.base_tier}: "
                    "it can never change a tier (rules only raise)",
                    f"raise its tier above {category.base_tier}, or delete it",
                    on_key=False,
                )
            for other in category.rules:
                if (
                    other is not rule
                    and other.tier >= rule.tier
                    and rule.tier > category.base_tier
                    and other.reads == rule.reads
                    and _same_condition(raw_rules, category.rules, rule, other)
                ):
                    add(
                        "info",
                        "rule-duplicated",
                        path,
                        f"rule {rule.id} has the same condition as {other.id}, which gives tier {other.tier}",
                        "merge the two rules",
                    )
            for field in sorted(rule.reads):
                definition = category.fields.get(field)
                if definition is not None and not definition.required and definition.default is None:
                    add(
                        "warning",
                        "reads-optional-field",
                        (*path, "when"),
                        f"rule {rule.id} reads {field}, which is optional and has no default: "
                        "the rule silently never fires when it is left out",
                        f"make {field} required or give it a default",
                        on_key=False,
                    )
        for field in category.fields:
            if category.rules and field not in read_by_rules:
                add(
                    "info",
                    "field-unused",
                    ("categories", name, "fields", field),
                    f"no rule of {name} reads {field}: it is recorded but never changes a tier",
                    "fine if it is context for reviewers; otherwise add a rule or drop the field",
                )

    for failure in run_examples(policy):
        loc = failure.location or Location(file, 1, 1)
        findings.append(
            Finding(
                severity="error",
                code="example-fails",
                file=loc.file,
                line=loc.line,
                column=loc.column,
                message=str(failure).split(": ", 1)[-1],
                hint="fix the rule or the example's expected tier",
            )
        )

    for number, tier in sorted(policy.tiers.items()):
        if tier.approvers is None:
            continue
        holders = sorted(p.name for p in policy.people_with_role(tier.approvers.role))
        path = ("tiers", number, "approvers")
        if len(holders) < tier.approvers.count:
            add(
                "error",
                "approvers-unsatisfiable",
                path,
                f"tier {number} needs {tier.approvers.count} {tier.approvers.role}(s) but the directory has "
                f"{len(holders)} ({', '.join(holders) or 'nobody'})",
                f"add people with role {tier.approvers.role} or lower the count",
            )
        else:  # the filer never approves their own decision
            stuck = [
                h for h in holders if policy.people[h].roles & FILING_ROLES and len(holders) - 1 < tier.approvers.count
            ]
            for name in stuck:
                add(
                    "warning",
                    "approvers-unsatisfiable-for-filer",
                    path,
                    f"a tier-{number} decision filed by {name} can never be approved: {name} is excluded as the "
                    f"filer and only {len(holders) - 1} other {tier.approvers.role}(s) remain",
                    f"add another {tier.approvers.role}, or route {name}'s decisions elsewhere",
                )

    for name in policy.parameters:
        if name not in used_parameters:
            add(
                "warning",
                "parameter-unused",
                ("parameters", name),
                f"parameter {name} is never used",
                "reference it as $" + name + " in a rule, or delete it",
            )

    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(findings, key=lambda f: (order[f.severity], f.line, f.column, f.code))


def _same_condition(raw_rules: list[Any], rules: Any, a: Any, b: Any) -> bool:
    ia, ib = list(rules).index(a), list(rules).index(b)
    if ia >= len(raw_rules) or ib >= len(raw_rules) or ia > ib:
        return False
    return bool(raw_rules[ia].get("when") == raw_rules[ib].get("when"))
