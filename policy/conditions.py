"""Rule conditions: compiled once, at load, into plain Python closures.

The language (data only, no code):
- `{field: value}`: the field equals the value (shorthand for `{field: {eq: value}}`);
- `{field: {gt: 2, lte: 5}}`: operators `eq ne lt lte gt gte in not_in contains exists`;
  several operators on one field must all hold;
- `{all: [..]}`, `{any: [..]}`, `{not: {..}}`; a mapping with several keys means all of them;
- a value written `$name` is the policy parameter `name`, substituted at compile time.

A field absent from the attributes (an optional field without a default) makes every comparison
false, so a rule never fires on information nobody gave; the exceptions are the ones whose
meaning is "not that": `exists: false`, `ne` and `not_in` are true for an absent field.

Values are checked against the field's declared type (`gt: "abc"` on a number field, or an enum
value that is not in the field's enum, is a load error), so a condition that loads can only
compare like with like.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from policy.attributes import in_enum, show, type_problem
from policy.compiled import FieldDef
from policy.errors import Path, SpecIssue
from policy.suggest import closest, did_you_mean

Predicate = Callable[[Mapping[str, Any]], bool]

OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "contains", "exists")
COMBINATORS = ("all", "any", "not")
_ORDERING = ("lt", "lte", "gt", "gte")
_SYMBOL = {
    "eq": "=",
    "ne": "!=",
    "lt": "<",
    "lte": "<=",
    "gt": ">",
    "gte": ">=",
    "in": "in",
    "not_in": "not in",
    "contains": "contains",
}
_MISSING: Any = object()
_UNRESOLVED: Any = object()


@dataclass(frozen=True, slots=True)
class Condition:
    matches: Predicate
    #: The attribute names the condition reads.
    reads: frozenset[str]
    #: Plain words, e.g. "deviation_pct > 2.0 (quality_bound_pct)".
    description: str


class ConditionInvalid(Exception):
    """The condition does not compile. `issues` have paths relative to the condition; an empty
    list means it only refers to names that are broken elsewhere (already reported)."""

    def __init__(self, issues: list[SpecIssue]) -> None:
        self.issues = issues
        super().__init__("; ".join(i.message for i in issues) or "condition refers to invalid declarations")


@dataclass(frozen=True, slots=True)
class _Part:
    matches: Predicate
    reads: frozenset[str]
    description: str
    #: True when the description needs parentheses inside a larger expression.
    compound: bool = False


def compile_condition(
    when: Any,
    fields: Mapping[str, FieldDef],
    parameters: Mapping[str, Any],
    *,
    broken_names: frozenset[str] = frozenset(),
) -> Condition:
    """Compile `when`; raises ConditionInvalid listing every problem.

    `broken_names` are fields or parameters that exist but failed their own checks: references
    to them are not reported again.
    """
    compiler = _Compiler(fields, parameters, broken_names)
    part = compiler.condition(when, ())
    if part is None or compiler.issues or compiler.unresolved:
        raise ConditionInvalid(compiler.issues)
    return Condition(part.matches, part.reads, part.description)


class _Compiler:
    def __init__(self, fields: Mapping[str, FieldDef], parameters: Mapping[str, Any], broken: frozenset[str]):
        self.fields = fields
        self.parameters = parameters
        self.broken = broken
        self.issues: list[SpecIssue] = []
        self.unresolved = False

    def problem(self, path: Path, message: str, hint: str | None = None, on_key: bool = False) -> None:
        self.issues.append(SpecIssue(path, message, hint, on_key))

    def condition(self, node: Any, path: Path) -> _Part | None:
        if not isinstance(node, Mapping):
            self.problem(
                path,
                f"a condition must be a mapping, got {show(node)}",
                "write e.g. {risk_score: {gt: 30}} or {all: [..]}",
            )
            return None
        if not node:
            self.problem(path, "empty condition", "name at least one field, e.g. {risk_score: {gt: 30}}")
            return None
        parts = [self.entry(str(key), value, (*path, key)) for key, value in node.items()]
        return _all_of(parts) if all(p is not None for p in parts) else None  # type: ignore[arg-type]

    def entry(self, key: str, value: Any, path: Path) -> _Part | None:
        if key == "not":
            inner = self.condition(value, path)
            if inner is None:
                return None
            test = inner.matches
            text = f"({inner.description})" if inner.compound else inner.description
            return _Part(lambda a: not test(a), inner.reads, f"not {text}")
        if key in ("all", "any"):
            if not isinstance(value, list) or not value:
                self.problem(path, f"'{key}' takes a non-empty list of conditions", f"write {key}: [{{..}}, {{..}}]")
                return None
            parts = [self.condition(item, (*path, i)) for i, item in enumerate(value)]
            if any(p is None for p in parts):
                return None
            if key == "all":
                return _all_of(parts)  # type: ignore[arg-type]
            return _any_of(parts)  # type: ignore[arg-type]
        field = self.fields.get(key)
        if field is None:
            if key not in self.broken:
                self.unknown_field(key, path)
            else:
                self.unresolved = True
            return None
        if isinstance(value, Mapping):
            if not value:
                operators = ", ".join(OPERATORS)
                self.problem(path, f"no operator given for '{key}'", f"write e.g. {{gt: 2}}; operators: {operators}")
                return None
            ops = [self.operator(field, str(op), operand, (*path, op)) for op, operand in value.items()]
            return _all_of(ops) if all(o is not None for o in ops) else None  # type: ignore[arg-type]
        return self.operator(field, "eq", value, path)

    def unknown_field(self, key: str, path: Path) -> None:
        if key in OPERATORS:
            hint = f"operators go under a field: {{field: {{{key}: ..}}}}"
        else:
            guess = closest(key, [*self.fields, *COMBINATORS])
            declared = ", ".join(self.fields) or "none"
            hint = f"did you mean '{guess}'?" if guess else f"declare it under `fields`, or use one of: {declared}"
        self.problem(path, f"the condition reads field '{key}', which this category does not declare", hint, True)

    def resolve(self, value: Any, path: Path) -> tuple[Any, str | None]:
        """The literal value, or the parameter's value for `$name` (with the name, for descriptions)."""
        if isinstance(value, str) and value.startswith("$"):
            name = value[1:]
            if name in self.parameters:
                return self.parameters[name], name
            if name in self.broken:
                self.unresolved = True
                return _UNRESOLVED, name
            guess = closest(name, self.parameters)
            hint = f"did you mean '${guess}'?" if guess else "declare it under `parameters`"
            self.problem(path, f"undefined parameter '{value}'", hint)
            return _UNRESOLVED, name
        return value, None

    def operator(self, field: FieldDef, op: str, raw: Any, path: Path) -> _Part | None:
        if op not in OPERATORS:
            self.problem(path, f"unknown operator '{op}'", did_you_mean(op, OPERATORS), on_key=True)
            return None
        if op in ("in", "not_in"):
            return self.membership(field, op, raw, path)
        value, parameter = self.resolve(raw, path)
        if value is _UNRESOLVED:
            return None
        name = field.name
        if op == "exists":
            if type(value) is not bool:
                self.problem(path, f"'exists' takes true or false, got {show(value)}", "write exists: true")
                return None
            return _Part(
                _exists(name) if value else _absent(name),
                frozenset({name}),
                f"{name} is {'set' if value else 'not set'}",
            )
        if not self.operand_ok(field, op, value, path):
            return None
        text = f"{name} {_SYMBOL[op]} {_describe(value, parameter)}"
        return _Part(_COMPARISONS[op](name, value), frozenset({name}), text)

    def membership(self, field: FieldDef, op: str, raw: Any, path: Path) -> _Part | None:
        if field.type == "list":
            self.problem(
                path,
                f"'{op}' compares one value with a list; '{field.name}' is itself a list",
                "use contains: to test whether the list holds a value",
            )
            return None
        if isinstance(raw, str) and raw.startswith("$"):
            self.problem(path, f"'{op}' takes a list; a parameter holds one value", f"write {op}: [{raw}, ..]")
            return None
        if not isinstance(raw, list) or not raw:
            self.problem(path, f"'{op}' takes a non-empty list, got {show(raw)}", f"write {op}: [a, b]")
            return None
        resolved = [self.resolve(item, (*path, i)) for i, item in enumerate(raw)]
        if any(v is _UNRESOLVED for v, _ in resolved):
            return None
        if not all(self.operand_ok(field, "eq", v, (*path, i)) for i, (v, _) in enumerate(resolved)):
            return None
        values = [v for v, _ in resolved]
        text = f"{field.name} {_SYMBOL[op]} [" + ", ".join(_describe(v, p) for v, p in resolved) + "]"
        # Booleans and numbers are kept apart by the type check above, so a set is exact here.
        members = frozenset(values)
        test = _is_in(field.name, members) if op == "in" else _not_in(field.name, members)
        return _Part(test, frozenset({field.name}), text)

    def operand_ok(self, field: FieldDef, op: str, value: Any, path: Path) -> bool:
        """Whether `value` can be compared with `field` by `op`; reports why not."""
        kind = field.type
        if op in _ORDERING and kind not in ("number", "integer"):
            self.problem(path, f"'{op}' compares numbers; '{field.name}' is a {kind} field", "use eq, ne, in or not_in")
            return False
        if op == "contains":
            if kind == "string":
                return self.typed(field, "string", value, path)
            if kind != "list":
                self.problem(
                    path, f"'contains' needs a list or text field; '{field.name}' is a {kind} field", "use eq or in"
                )
                return False
            return self.enum_ok(field, value, path)
        if kind == "list":
            return self.typed(field, "list", value, path)
        compared_as = "number" if kind == "integer" else kind  # `gt: 2.5` is meaningful for integers
        return self.typed(field, compared_as, value, path) and self.enum_ok(field, value, path)

    def typed(self, field: FieldDef, kind: str, value: Any, path: Path) -> bool:
        problem = type_problem(kind, value)
        if problem is None:
            return True
        self.problem(
            path,
            f"'{field.name}' is a {field.type} field: the value {problem}",
            "compare it with a value of the same type",
        )
        return False

    def enum_ok(self, field: FieldDef, value: Any, path: Path) -> bool:
        if field.enum is None or in_enum(value, field.enum):
            return True
        allowed = [e for e in field.enum if isinstance(e, str)]
        hint = did_you_mean(value, allowed) if isinstance(value, str) and allowed else None
        listed = ", ".join(show(e) for e in field.enum)
        self.problem(
            path,
            f"{show(value)} is not a value of '{field.name}' ({listed})",
            hint or "use one of the field's enum values",
        )
        return False


def _describe(value: Any, parameter: str | None) -> str:
    text = value if isinstance(value, str) else show(value)
    return f"{text} ({parameter})" if parameter else text


def _all_of(parts: Sequence[_Part]) -> _Part:
    if len(parts) == 1:
        return parts[0]
    tests = tuple(p.matches for p in parts)
    if len(tests) == 2:
        first, second = tests
        matches: Predicate = lambda a: first(a) and second(a)  # noqa: E731
    else:

        def matches(a: Mapping[str, Any]) -> bool:
            for test in tests:  # noqa: SIM110 - a plain loop is faster than all() over a generator
                if not test(a):
                    return False
            return True

    text = " and ".join(f"({p.description})" if p.compound else p.description for p in parts)
    return _Part(matches, frozenset().union(*(p.reads for p in parts)), text, compound=True)


def _any_of(parts: Sequence[_Part]) -> _Part:
    if len(parts) == 1:
        return parts[0]
    tests = tuple(p.matches for p in parts)

    def matches(a: Mapping[str, Any]) -> bool:
        for test in tests:  # noqa: SIM110 - a plain loop is faster than any() over a generator
            if test(a):
                return True
        return False

    text = " or ".join(f"({p.description})" if p.compound else p.description for p in parts)
    return _Part(matches, frozenset().union(*(p.reads for p in parts)), text, compound=True)


# Each factory binds its arguments as defaults: local lookups keep the per-call cost minimal.


def _eq(f: str, v: Any) -> Predicate:
    return lambda a, f=f, v=v: a.get(f, _MISSING) == v  # type: ignore[misc]


def _ne(f: str, v: Any) -> Predicate:
    return lambda a, f=f, v=v: a.get(f, _MISSING) != v  # type: ignore[misc]


def _lt(f: str, v: Any) -> Predicate:
    return lambda a, f=f, v=v: (x := a.get(f, _MISSING)) is not _MISSING and x < v  # type: ignore[misc]


def _lte(f: str, v: Any) -> Predicate:
    return lambda a, f=f, v=v: (x := a.get(f, _MISSING)) is not _MISSING and x <= v  # type: ignore[misc]


def _gt(f: str, v: Any) -> Predicate:
    return lambda a, f=f, v=v: (x := a.get(f, _MISSING)) is not _MISSING and x > v  # type: ignore[misc]


def _gte(f: str, v: Any) -> Predicate:
    return lambda a, f=f, v=v: (x := a.get(f, _MISSING)) is not _MISSING and x >= v  # type: ignore[misc]


def _contains(f: str, v: Any) -> Predicate:
    return lambda a, f=f, v=v: (x := a.get(f, _MISSING)) is not _MISSING and v in x  # type: ignore[misc]


def _is_in(f: str, values: frozenset[Any]) -> Predicate:
    return lambda a, f=f, s=values: a.get(f, _MISSING) in s  # type: ignore[misc]


def _not_in(f: str, values: frozenset[Any]) -> Predicate:
    return lambda a, f=f, s=values: a.get(f, _MISSING) not in s  # type: ignore[misc]


def _exists(f: str) -> Predicate:
    return lambda a, f=f: f in a  # type: ignore[misc]


def _absent(f: str) -> Predicate:
    return lambda a, f=f: f not in a  # type: ignore[misc]


_COMPARISONS: dict[str, Callable[[str, Any], Predicate]] = {
    "eq": _eq,
    "ne": _ne,
    "lt": _lt,
    "lte": _lte,
    "gt": _gt,
    "gte": _gte,
    "contains": _contains,
}
