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
from dataclasses import dataclass, field
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
#: Deeper than any policy needs, and well inside what Python's compiler accepts for one expression.
MAX_DEPTH = 32
_UNRESOLVED: Any = object()


@dataclass(frozen=True, slots=True)
class Condition:
    matches: Predicate
    #: The attribute names the condition reads.
    reads: frozenset[str]
    #: Plain words, e.g. "deviation_pct > 2.0 (quality_bound_pct)".
    description: str
    #: `matches` as a Python expression over the attributes `a`, for inlining into a generated
    #: classifier: field names appear only as repr() literals, compared values only as the names
    #: bound in `constants` (and `_MISSING`), never written into the source.
    source: str = "True"
    constants: Mapping[str, Any] = field(default_factory=dict)
    #: The same expression reading field i of the category from the local `f_i` instead of `a`
    #: (`_MISSING` when absent): what a generated classifier inlines after validating into locals.
    local_source: str = "True"


class ConditionInvalid(Exception):
    """The condition does not compile. `issues` have paths relative to the condition; an empty
    list means it only refers to names that are broken elsewhere (already reported)."""

    def __init__(self, issues: list[SpecIssue]) -> None:
        self.issues = issues
        super().__init__("; ".join(i.message for i in issues) or "condition refers to invalid declarations")


@dataclass(frozen=True, slots=True)
class _Part:
    source: str
    #: `source` over the locals f_i (see Condition.local_source).
    local: str
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
    prefix: str = "_k",
) -> Condition:
    """Compile `when`; raises ConditionInvalid listing every problem.

    `broken_names` are fields or parameters that exist but failed their own checks: references
    to them are not reported again.
    """
    compiler = _Compiler(fields, parameters, broken_names, prefix)
    part = compiler.condition(when, ())
    if part is None or compiler.issues or compiler.unresolved:
        raise ConditionInvalid(compiler.issues)
    # One flat function per condition (nested closures cost a call per operator), its values
    # arriving as default arguments, which it reads as fast locals.
    bound = {"_MISSING": _MISSING, **compiler.constants}
    signature = ", ".join(["a", *(f"{name}={name}" for name in bound)])
    matches: Predicate = eval(compile(f"lambda {signature}: {part.source}", "<condition>", "eval"), bound)
    return Condition(matches, part.reads, part.description, part.source, compiler.constants, part.local)


class _Compiler:
    def __init__(
        self, fields: Mapping[str, FieldDef], parameters: Mapping[str, Any], broken: frozenset[str], prefix: str
    ):
        self.fields = fields
        self.parameters = parameters
        self.broken = broken
        self.issues: list[SpecIssue] = []
        self.unresolved = False
        self.prefix = prefix
        #: The values the expression compares with, by the name it reads them under.
        self.constants: dict[str, Any] = {}
        self.depth = 0

    def local(self, name: str) -> str:
        """The local a generated classifier holds field `name` in (its index among the fields)."""
        return f"f_{list(self.fields).index(name)}"

    def constant(self, value: Any) -> str:
        name = f"{self.prefix}{len(self.constants)}"
        self.constants[name] = value
        return name

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
        if self.depth >= MAX_DEPTH:
            self.problem(path, f"conditions nest at most {MAX_DEPTH} levels deep", "flatten it with all: or any:")
            return None
        self.depth += 1
        try:
            parts = [self.entry(str(key), value, (*path, key)) for key, value in node.items()]
        finally:
            self.depth -= 1
        return _all_of(parts) if all(p is not None for p in parts) else None  # type: ignore[arg-type]

    def entry(self, key: str, value: Any, path: Path) -> _Part | None:
        if key == "not":
            inner = self.condition(value, path)
            if inner is None:
                return None
            text = f"({inner.description})" if inner.compound else inner.description
            return _Part(f"(not {inner.source})", f"(not {inner.local})", inner.reads, f"not {text}")
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
            local = self.local(name)
            return _Part(
                f"({name!r} in a)" if value else f"({name!r} not in a)",
                f"({local} is not _MISSING)" if value else f"({local} is _MISSING)",
                frozenset({name}),
                f"{name} is {'set' if value else 'not set'}",
            )
        if not self.operand_ok(field, op, value, path):
            return None
        text = f"{name} {_SYMBOL[op]} {_describe(value, parameter)}"
        template, bound = _COMPARISONS[op], self.constant(value)
        local = _ALWAYS_GIVEN.get(op, template) if _always_given(field) else template
        return _Part(
            template.format(read=f"a.get({name!r}, _MISSING)", v=bound),
            local.format(read=self.local(name), v=bound),
            frozenset({name}),
            text,
        )

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
        members = self.constant(frozenset(values))
        test = f"{'in' if op == 'in' else 'not in'} {members})"
        local = self.local(field.name)
        return _Part(f"(a.get({field.name!r}, _MISSING) {test}", f"({local} {test}", frozenset({field.name}), text)

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
    return _joined(parts, "and")


def _any_of(parts: Sequence[_Part]) -> _Part:
    return _joined(parts, "or")


def _joined(parts: Sequence[_Part], word: str) -> _Part:
    if len(parts) == 1:
        return parts[0]
    source = "(" + f" {word} ".join(p.source for p in parts) + ")"
    local = "(" + f" {word} ".join(p.local for p in parts) + ")"
    text = f" {word} ".join(f"({p.description})" if p.compound else p.description for p in parts)
    return _Part(source, local, frozenset().union(*(p.reads for p in parts)), text, compound=True)


def _always_given(field: FieldDef) -> bool:
    """A required or defaulted field: after validation its local is never `_MISSING`."""
    return field.required or field.default is not None


#: The ordering and `contains` templates without the absence test, for always-given locals.
_ALWAYS_GIVEN: dict[str, str] = {
    "lt": "({read} < {v})",
    "lte": "({read} <= {v})",
    "gt": "({read} > {v})",
    "gte": "({read} >= {v})",
    "contains": "({v} in {read})",
}

#: Expression templates: `read` reads the field (from `a` or a local), `v` names the compared value.
#: An absent field reads as `_MISSING`, which equals nothing; ordering and `contains` are false on it.
_COMPARISONS: dict[str, str] = {
    "eq": "({read} == {v})",
    "ne": "({read} != {v})",
    "lt": "((x := {read}) is not _MISSING and x < {v})",
    "lte": "((x := {read}) is not _MISSING and x <= {v})",
    "gt": "((x := {read}) is not _MISSING and x > {v})",
    "gte": "((x := {read}) is not _MISSING and x >= {v})",
    "contains": "((x := {read}) is not _MISSING and {v} in x)",
}
