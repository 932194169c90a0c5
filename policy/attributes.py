"""Checking the attributes of a filed decision against its category's declared fields.

`make_validator` is built once per category at load; the returned function runs on every
filing and classification, so it does the least work it can on the happy path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from policy.compiled import AttributesInvalid, FieldDef, FieldError
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
    checks = {name: _checker(f) for name, f in known.items()}
    required = tuple(name for name, f in known.items() if f.required)
    defaults = tuple((name, f.default) for name, f in known.items() if f.default is not None)
    list_fields = tuple(name for name, f in known.items() if f.type == "list")
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

    # The happy path only asks yes/no questions; messages are built by `problems` when one fails.
    def validate(attributes: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        try:
            for name, value in attributes.items():
                if value is not None:
                    if not checks[name](value):
                        raise invalid(attributes)
                    out[name] = value
        except (KeyError, AttributeError, TypeError):
            raise invalid(attributes) from None
        for name in required:
            if name not in out:
                raise invalid(attributes)
        for name, default in defaults:
            if name not in out:
                out[name] = list(default) if type(default) is list else default
        for name in list_fields:
            if name in out:
                out[name] = list(out[name])
        return out

    return validate


_INF = math.inf


_FAST_TYPE: dict[str, Callable[[Any], bool]] = {
    # A chained comparison is false for NaN and both infinities.
    "number": lambda v: (type(v) is int) or (type(v) is float and -_INF < v < _INF),
    "integer": lambda v: type(v) is int,
    "string": lambda v: type(v) is str,
    "boolean": lambda v: type(v) is bool,
    "list": lambda v: type(v) is list or type(v) is tuple,
}


def _checker(field: FieldDef) -> Callable[[Any], bool]:
    """A fast yes/no check of one value against its field: True exactly when `value_problem` is None.

    Built from the field's constraints once at load, so a filing pays for a set lookup or two
    comparisons, not for the message-building path.
    """
    is_type = _FAST_TYPE[field.type]
    member = _member(field)
    lo = field.min if field.min is not None else -_INF
    hi = field.max if field.max is not None else _INF
    ranged = field.min is not None or field.max is not None
    if member is None and not ranged:
        return is_type
    if member is not None and not ranged:
        return lambda v: is_type(v) and member(v)
    if member is None:
        return lambda v: is_type(v) and lo <= v <= hi
    return lambda v: is_type(v) and member(v) and lo <= v <= hi  # type: ignore[misc]


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
