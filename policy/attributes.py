"""Checking the attributes of a filed decision against its category's declared fields.

`make_validator` is built once per category at load; the returned function runs on every
filing and classification, so it does the least work it can on the happy path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from policy.compiled import AttributesInvalid, Classification, FieldDef, FieldError, Rule
from policy.suggest import closest, did_you_mean

_TYPE_WORDS = {
    "number": "a number",
    "integer": "a whole number",
    "string": "text",
    "boolean": "true or false",
    "list": "a list",
}


def show(value: Any) -> str:
    """A value as a person reads it in a message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "an object"
    return repr(value)


_IS_TYPE: dict[str, Callable[[Any], bool]] = {
    "number": lambda v: type(v) is int or (type(v) is float and math.isfinite(v)),
    "integer": lambda v: type(v) is int,
    "string": lambda v: type(v) is str,
    "boolean": lambda v: type(v) is bool,
    "list": lambda v: type(v) is list or type(v) is tuple,
}


def type_problem(type_name: str, value: Any) -> str | None:
    """Why `value` is not of the declared field type, or None when it is.

    Booleans are not numbers here (JSON and YAML keep them apart, Python does not), and NaN or
    infinity are refused because no threshold can be compared with them.
    """
    if _IS_TYPE[type_name](value):
        return None
    if type(value) is float and not math.isfinite(value) and type_name in ("number", "integer"):
        return f"must be a finite number, got {show(value)}"
    if type_name == "integer" and type(value) is float and value.is_integer():
        return f"must be a whole number written without a decimal point, got {show(value)}"
    return f"must be {_TYPE_WORDS[type_name]}, got {show(value)}"


def in_enum(value: Any, enum: tuple[Any, ...]) -> bool:
    """Membership that keeps true/false apart from 1/0."""
    return any(value == e and (type(value) is bool) == (type(e) is bool) for e in enum)


def value_problem(field: FieldDef, value: Any) -> str | None:
    """Why `value` is not acceptable for `field` (type, enum, range), or None."""
    problem = type_problem(field.type, value)
    if problem is not None:
        return problem
    if field.enum is not None:
        items = value if field.type == "list" else (value,)
        for item in items:
            if not in_enum(item, field.enum):
                allowed = ", ".join(show(e) for e in field.enum)
                guess = closest(item, [e for e in field.enum if isinstance(e, str)]) if isinstance(item, str) else None
                hint = f"; did you mean '{guess}'?" if guess else ""
                return f"must be one of {allowed}, got {show(item)}{hint}"
    if field.min is not None and value < field.min:
        return f"must be at least {show(field.min)}, got {show(value)}"
    if field.max is not None and value > field.max:
        return f"must be at most {show(field.max)}, got {show(value)}"
    return None


Validator = Callable[[Mapping[str, Any]], dict[str, Any]]


def make_validator(category: str, fields: Mapping[str, FieldDef]) -> Validator:
    """A function that checks filed attributes and returns them with defaults filled in.

    An attribute given as null counts as not given (so a default applies, or `required` fails).
    Every problem is collected into one AttributesInvalid naming `$.attributes.<field>`.
    """
    known = dict(fields)
    namespace: dict[str, Any] = {"invalid": _invalid_for(category, known), "_INF": _INF}
    lines = ["def validate(attributes):", *_validation_lines(known, namespace), "    return out"]
    validate: Validator = _define(lines, f"<attributes of {category!r}>", namespace, "validate")
    return validate


def make_classifier(
    category: str,
    fields: Mapping[str, FieldDef],
    base_tier: int,
    rules: Sequence[Rule],
    version: str,
) -> Callable[[Mapping[str, Any]], Classification]:
    """Validation, every rule and the result, as one generated function per category.

    tier = max(base_tier, tier of every matching rule); matched rules in the order written.
    Each rule's test sets a bit of `m`; the tier and the explanation of every combination are
    computed here, once, so the generated code only indexes them (up to _MAX_TABULATED rules;
    beyond that it collects the matches as it goes).
    """
    known = dict(fields)
    namespace: dict[str, Any] = {
        "invalid": _invalid_for(category, known),
        "_INF": _INF,
        "_Classification": Classification,
        "_category": category,
        "_version": version,
    }
    lines = ["def classify(attributes):", *_validation_lines(known, namespace)]
    tests = []
    for i, rule in enumerate(rules):
        if rule.local_source is not None:
            namespace.update(rule.constants)  # names are unique per rule (prefix _r<i>_)
            tests.append(rule.local_source)
        else:
            namespace[f"_rule_{i}"] = rule.matches
            tests.append(f"_rule_{i}(out)")
    if not rules:
        tier, matched = str(int(base_tier)), "()"
    elif len(rules) <= _MAX_TABULATED:
        combinations = range(1 << len(rules))
        chosen = [[rule for bit, rule in enumerate(rules) if m >> bit & 1] for m in combinations]
        namespace["_tiers"] = tuple(max([base_tier, *(r.tier for r in c)]) for c in chosen)
        namespace["_explained"] = tuple(tuple(r.as_matched for r in c) for c in chosen)
        lines.append("    m = 0")
        for bit, test in enumerate(tests):
            lines.append(f"    if {test}:")
            lines.append(f"        m |= {1 << bit}")
        tier, matched = "_tiers[m]", "_explained[m]"
    else:
        lines.append(f"    tier = {int(base_tier)}")
        lines.append("    matched = []")
        for i, (rule, test) in enumerate(zip(rules, tests, strict=True)):
            namespace[f"_shown_{i}"] = rule.as_matched
            lines.append(f"    if {test}:")
            lines.append(f"        matched.append(_shown_{i})")
            lines.append(f"        if tier < {int(rule.tier)}:")
            lines.append(f"            tier = {int(rule.tier)}")
        tier, matched = "tier", "tuple(matched)"
    lines.append(f"    return _Classification(_category, {tier}, {int(base_tier)}, {matched}, _version, True, out)")
    classify: Callable[[Mapping[str, Any]], Classification] = _define(
        lines, f"<classification of {category!r}>", namespace, "classify"
    )
    return classify


#: 2**8 combinations at most are tabulated per category; longer rule lists are evaluated in a loop.
_MAX_TABULATED = 8


def _invalid_for(category: str, known: Mapping[str, FieldDef]) -> Callable[[Any], AttributesInvalid]:
    required = tuple(name for name, f in known.items() if f.required)
    declared = ", ".join(known) or "none"

    def invalid(attributes: Mapping[str, Any]) -> AttributesInvalid:
        return AttributesInvalid(problems(attributes) or [FieldError("$.attributes", "invalid attributes")])

    def problems(attributes: Mapping[str, Any]) -> list[FieldError]:
        """Every problem, worded for the filer (only called once something is known to be wrong)."""
        if not isinstance(attributes, Mapping):
            return [FieldError("$.attributes", f"must be an object, got {show(attributes)}")]
        errors = []
        for name, value in attributes.items():
            field = known.get(name)
            if field is None:
                guess = did_you_mean(name, known)
                hint = guess if guess.startswith("did you") else f"fields of '{category}': {declared}"
                errors.append(FieldError(f"$.attributes.{name}", f"unknown field '{name}'; {hint}"))
            elif value is not None and (problem := value_problem(field, value)) is not None:
                errors.append(FieldError(f"$.attributes.{name}", problem))
        for name in required:
            if attributes.get(name) is None:
                wanted = _TYPE_WORDS[known[name].type]
                errors.append(FieldError(f"$.attributes.{name}", f"is required ({wanted}) for '{category}'"))
        return errors

    return invalid


def _validation_lines(known: Mapping[str, FieldDef], namespace: dict[str, Any]) -> list[str]:
    """Source lines that leave the validated attributes in `out` (or raise `invalid(attributes)`).

    The happy path is straight-line code: each declared field is read once into the local `f_i`
    and checked inline, and `n` counts the given names that were not a declared field with a
    value; only when some are left does the slower question "is every name declared?" get asked
    (the rest are nulls, which mean "not given"). `f_i` is `_MISSING` for a field neither given
    nor defaulted. `out` holds the fields always present (required or defaulted) in declaration
    order, then the optional ones that were given. Messages are built by `invalid` once something
    is known to be wrong. Field names enter the source only as repr() literals; every other value
    (bounds, enum sets, defaults) is bound by name in the namespace, never written into the source.
    """
    namespace["_known"] = frozenset(known)
    namespace["_MISSING"] = object()
    body = ["    try:", "        n = len(attributes)"]
    always: list[tuple[int, str]] = []
    optional: list[tuple[int, str]] = []
    for i, (name, field) in enumerate(known.items()):
        body.append(f"        f_{i} = attributes.get({name!r})")
        body.append(f"        if f_{i} is not None:")
        body.append(f"            if not ({_inline_check(field, f'f_{i}', i, namespace)}):")
        body.append("                raise invalid(attributes)")
        if field.type == "list":
            body.append(f"            f_{i} = list(f_{i})")
        body.append("            n -= 1")
        body.append("        else:")
        if field.required:
            body.append("            raise invalid(attributes)")
        elif field.default is not None:
            namespace[f"_default_{i}"] = field.default
            fresh = f"list(_default_{i})" if type(field.default) is list else f"_default_{i}"
            body.append(f"            f_{i} = {fresh}")
        else:
            body.append(f"            f_{i} = _MISSING")
        (always if field.required or field.default is not None else optional).append((i, name))
    body.append("        if n and not (attributes.keys() <= _known):")
    body.append("            raise invalid(attributes)")
    body.append("    except (KeyError, AttributeError, TypeError):")
    body.append("        raise invalid(attributes) from None")
    body.append("    out = {" + ", ".join(f"{name!r}: f_{i}" for i, name in always) + "}")
    for i, name in optional:
        body.append(f"    if f_{i} is not _MISSING:")
        body.append(f"        out[{name!r}] = f_{i}")
    return body


def _define(lines: list[str], filename: str, namespace: dict[str, Any], name: str) -> Any:
    # Every name the body reads on the happy path arrives as a default argument: a fast local
    # instead of a globals-then-builtins lookup per use.
    bound = {"type": type, "int": int, "float": float, "str": str, "bool": bool, "list": list, "tuple": tuple,
             "all": all, **namespace}  # fmt: skip
    defaults = ", ".join(f"{key}={key}" for key in bound)
    header = lines[0].replace("(attributes):", f"(attributes, {defaults}):")
    exec(compile("\n".join([header, *lines[1:]]) + "\n", filename, "exec"), bound)
    return bound[name]


_INLINE_TYPE = {
    # A chained comparison is false for NaN and both infinities.
    "number": "(type({v}) is int or (type({v}) is float and -_INF < {v} < _INF))",
    "integer": "type({v}) is int",
    "string": "type({v}) is str",
    "boolean": "type({v}) is bool",
    "list": "(type({v}) is list or type({v}) is tuple)",
}


def _inline_check(field: FieldDef, v: str, i: int, namespace: dict[str, Any]) -> str:
    """A Python expression over the local `v`, true exactly when `value_problem(field, v)` is None."""
    parts = [_INLINE_TYPE[field.type].format(v=v)]
    if field.enum is not None:
        if all(type(e) is str for e in field.enum):
            namespace[f"_enum_{i}"] = frozenset(field.enum)
            if field.type == "list":
                parts.append(f"all(type(item) is str and item in _enum_{i} for item in {v})")
            else:
                parts.append(f"type({v}) is str and {v} in _enum_{i}")
        else:
            namespace[f"_member_{i}"] = _member(field)
            parts.append(f"_member_{i}({v})")
    if field.min is not None:
        namespace[f"_min_{i}"] = field.min
        parts.append(f"_min_{i} <= {v}")
    if field.max is not None:
        namespace[f"_max_{i}"] = field.max
        parts.append(f"{v} <= _max_{i}")
    return " and ".join(parts)


_INF = math.inf


def _member(field: FieldDef) -> Callable[[Any], bool] | None:
    enum = field.enum
    if enum is None:
        return None
    if all(type(e) is str for e in enum):
        # Text only: a set lookup says the same as `in_enum`, since a str equals only a str.
        allowed = frozenset(enum)
        if field.type == "list":
            return lambda v: all(type(i) is str and i in allowed for i in v)
        return lambda v: type(v) is str and v in allowed
    if field.type == "list":
        return lambda v: all(in_enum(i, enum) for i in v)
    return lambda v: in_enum(v, enum)
