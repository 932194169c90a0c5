"""Turning parsed YAML into spec Structs while collecting every structural error, not just the first.

msgspec stops at the first error. On the error path only, this walks the spec type alongside
the data (Structs, dicts, lists, optional values), converts each piece on its own and reports
every failure with its path, a plain message and a fix. Dict entries that fail are dropped from
a partial result so later checks can still look at the rest.
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec

from policy.errors import Path, SpecIssue
from policy.suggest import closest, did_you_mean

#: Returned in place of a value that failed to convert (its problem is already recorded).
INVALID: Any = msgspec.UNSET

_PATH_PART = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]")
_TIER_HINT = "tiers are numbered 1 (the squad), 2 and 3 (the highest authority)"
_HINTS_BY_KEY = {
    "sla": "write a duration such as 3d, 36h or 90m",
    "every": "write a duration such as 1w or 2w",
    "anchor": "write a date as YYYY-MM-DD, e.g. 2026-01-05",
    "start": "write a date as YYYY-MM-DD, e.g. 2026-01-05",
    "end": "write a date as YYYY-MM-DD, e.g. 2026-03-30",
    "when": "write a condition mapping such as {deviation_pct: {gt: 2}}",
    "approval": "write `approval: self` for tiers the squad resolves, or give `approvers` instead",
}


def convert(value: Any, type_: Any, path: Path, issues: list[SpecIssue]) -> Any:
    """`value` converted to `type_`, or INVALID with every problem appended to `issues`."""
    try:
        return msgspec.convert(value, type_)
    except msgspec.ValidationError as exc:
        before = len(issues)
        result = _descend(value, type_, path, issues)
        if len(issues) == before:  # the pieces were fine on their own: report the whole
            issues.append(_leaf_issue(str(exc), value, type_, path))
            return INVALID
        # A dict keeps its good entries, so checks on the rest still run; anything else is lost.
        return result if get_origin(_unwrap(type_)) is dict and isinstance(result, dict) else INVALID


def convert_fields(value: Any, struct: type[msgspec.Struct], path: Path, issues: list[SpecIssue]) -> dict[str, Any]:
    """The fields of `struct` that converted (by attribute name), reporting the rest."""
    if not isinstance(value, Mapping):
        issues.append(SpecIssue(path, f"expected a mapping of keys, got {_kind(value)}", "see the policy schema"))
        return {}
    return _struct_fields(value, struct, path, issues)


def _descend(value: Any, type_: Any, path: Path, issues: list[SpecIssue]) -> Any:
    inner = _unwrap(type_)
    if isinstance(inner, type) and issubclass(inner, msgspec.Struct):
        if not isinstance(value, Mapping):
            return _leaf(value, type_, path, issues)
        _struct_fields(value, inner, path, issues)
        return INVALID
    origin = get_origin(inner)
    if origin is dict and isinstance(value, Mapping):
        key_type, value_type = get_args(inner)
        out = {}
        for key, item in value.items():
            converted_key = _key(key, key_type, (*path, key), issues)
            converted = convert(item, value_type, (*path, key), issues)
            if converted_key is not INVALID and converted is not INVALID:
                out[converted_key] = converted
        return out
    if origin is list and isinstance(value, list):
        (item_type,) = get_args(inner)
        return [convert(item, item_type, (*path, i), issues) for i, item in enumerate(value)]
    return _leaf(value, type_, path, issues)


def _struct_fields(
    value: Mapping[Any, Any], struct: type[msgspec.Struct], path: Path, issues: list[SpecIssue]
) -> dict[str, Any]:
    known = {f.encode_name: f for f in msgspec.structs.fields(struct)}
    out: dict[str, Any] = {}
    misspelt: set[str] = set()
    for key, item in value.items():
        info = known.get(str(key))
        if info is None:
            guess = closest(str(key), [k for k in known if k not in value])
            misspelt.add(guess or "")
            hint = f"did you mean '{guess}'?" if guess else did_you_mean(key, known, what="a known key")
            issues.append(SpecIssue((*path, key), f"unknown key '{key}'", hint, True))
            continue
        converted = convert(item, info.type, (*path, key), issues)
        if converted is not INVALID:
            out[info.name] = converted
    for name, info in known.items():
        # A misspelt required key is reported once, as the misspelling.
        if info.required and name not in value and name not in misspelt:
            issues.append(SpecIssue(path, f"missing required key '{name}'", f"add `{name}: ...`", on_key=True))
    return out


def _key(key: Any, key_type: Any, path: Path, issues: list[SpecIssue]) -> Any:
    try:
        return msgspec.convert(key, key_type)
    except msgspec.ValidationError as exc:
        issue = _leaf_issue(str(exc), key, key_type, path)
        issues.append(SpecIssue(path, issue.message, issue.hint, on_key=True))
        return INVALID


def _leaf(value: Any, type_: Any, path: Path, issues: list[SpecIssue]) -> Any:
    try:
        return msgspec.convert(value, type_)
    except msgspec.ValidationError as exc:
        issues.append(_leaf_issue(str(exc), value, type_, path))
        return INVALID


def _leaf_issue(error: str, value: Any, type_: Any, path: Path) -> SpecIssue:
    message, _, where = error.partition(" - at `")
    full_path = (*path, *_relative_path(where.rstrip("`")))
    hint = _hint(full_path, message, type_)
    choices = _literal_choices(type_)
    if choices is not None and isinstance(value, str):
        names = [p for p in full_path if isinstance(p, str)]
        what = _LITERAL_NAMES.get(names[-1] if names else "", "value")
        return SpecIssue(full_path, f"unknown {what} '{value}'", did_you_mean(value, choices))
    if "date" in message and isinstance(value, str):
        return SpecIssue(full_path, f"'{value}' is not a date", hint)
    if _is_tier(type_):
        return SpecIssue(full_path, f"{_show(value)} is not a tier", _TIER_HINT)
    if full_path and full_path[-1] in ("sla", "every") and isinstance(value, str):
        return SpecIssue(full_path, f"'{value}' is not a duration", hint)
    mismatch = _MISMATCH.match(message)
    if mismatch:
        return SpecIssue(full_path, f"expected {_plain(mismatch.group(1))}, got {_show(value)}", hint)
    constraint = _CONSTRAINT.match(message)
    if constraint:
        wanted = f"{_plain(constraint.group(1))} {constraint.group(2)}"
        return SpecIssue(full_path, f"expected {wanted}, got {_show(value)}", hint)
    return SpecIssue(full_path, _plain(message), hint)


_LITERAL_NAMES = {"role": "role", "roles": "role", "type": "field type", "approval": "approval"}
_MISMATCH = re.compile(r"Expected `([^`]+)`, got `[^`]+`")
_CONSTRAINT = re.compile(r"Expected `([^`]+)` (.+)$")
_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "null": "nothing",
    "date": "a date (YYYY-MM-DD)",
}


def _plain(types_text: str) -> str:
    """msgspec's type names (`str | null`) said the way they look in YAML (`text or nothing`)."""
    return " or ".join(_TYPE_WORDS.get(t.strip(), t.strip()) for t in types_text.split("|"))


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, int | float):
        return repr(value)
    return _kind(value)


def _hint(path: Path, message: str, type_: Any) -> str:
    keys = [p for p in path if isinstance(p, str)]
    if keys and keys[-1] in _HINTS_BY_KEY:
        return _HINTS_BY_KEY[keys[-1]]
    choices = _literal_choices(type_)
    if choices is not None:
        return "use one of: " + ", ".join(f"'{c}'" for c in choices)
    expected = _MISMATCH.match(message) or _CONSTRAINT.match(message)
    wanted = {t.strip() for t in expected.group(1).split("|")} if expected else set()
    if "bool" in wanted:
        return "write true or false (YAML words such as yes/no/on/off are read as text here)"
    if "int" in wanted and ">=" in message:
        return "use a positive whole number"
    if "object" in wanted:
        return "check the indentation: this should be a mapping of `key: value` lines"
    if "array" in wanted:
        return "write a list, e.g. [a, b] or one `- item` per line"
    if "int" in wanted:
        return "write a whole number, e.g. 2"
    if "float" in wanted:
        return "write a number, e.g. 2.5"
    if "str" in wanted:
        return "write text; quote it if it looks like a number or a date"
    return "see the policy schema (`decisions policy schema`)"


def _relative_path(where: str) -> Path:
    if not where.startswith("$"):
        return ()
    return tuple(name if name is not None and name != "" else int(index) for name, index in _PATH_PART.findall(where))


def _unwrap(type_: Any) -> Any:
    """The type to walk into: Annotated stripped, and `X | None` reduced to X."""
    if get_origin(type_) is Annotated:
        return _unwrap(get_args(type_)[0])
    if get_origin(type_) in (Union, types.UnionType):
        options = [a for a in get_args(type_) if a is not type(None) and a is not msgspec.UnsetType]
        if len(options) == 1:
            return _unwrap(options[0])
    return type_


def _literal_choices(type_: Any) -> tuple[str, ...] | None:
    inner = _unwrap(type_)
    if get_origin(inner) is Literal:
        return tuple(str(a) for a in get_args(inner))
    return None


def _is_tier(type_: Any) -> bool:
    if get_origin(type_) is not Annotated:
        return False
    base, *metas = get_args(type_)
    return base is int and any(getattr(m, "ge", None) == 1 and getattr(m, "le", None) == 3 for m in metas)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__
