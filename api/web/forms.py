"""HTML form values -> typed attributes for a category's declared fields (pure).

A browser sends every value as text; the policy declares what each field is. Empty
optional inputs are left out so the policy's defaults apply, exactly as with the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policy.compiled import Category, FieldDef

ATTRIBUTE_PREFIX = "attr."


def field_input_name(name: str) -> str:
    return ATTRIBUTE_PREFIX + name


def parse_attributes(category: Category | None, form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """(attributes, errors by input name). Unknown categories take no attributes from the form."""
    if category is None:
        return {}, {}
    attributes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, field in category.fields.items():
        raw = form.get(field_input_name(name))
        if field.type == "boolean":
            # An unchecked checkbox sends nothing: that is an explicit false, not a missing value.
            attributes[name] = raw in ("on", "true", "1")
            continue
        if raw is None or raw.strip() == "":
            continue
        try:
            attributes[name] = _convert(field, raw.strip())
        except ValueError as exc:
            errors[field_input_name(name)] = str(exc)
    return attributes, errors


def _convert(field: FieldDef, raw: str) -> Any:
    if field.type == "integer":
        try:
            return int(raw)
        except ValueError:
            raise ValueError("enter a whole number") from None
    if field.type == "number":
        try:
            value = float(raw)
        except ValueError:
            raise ValueError("enter a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("enter a finite number")
        return int(value) if value.is_integer() and "." not in raw and "e" not in raw.lower() else value
    if field.type == "list":
        return [item.strip() for item in raw.split(",") if item.strip()]
    return raw


def field_errors_from_paths(errors: list[tuple[str, str]]) -> tuple[dict[str, str], list[str]]:
    """Split service errors (`$.attributes.x`, `$.title`) into per-input messages and the rest."""
    by_field: dict[str, str] = {}
    general: list[str] = []
    for path, message in errors:
        if path.startswith("$.attributes."):
            by_field[field_input_name(path.removeprefix("$.attributes.").split(".")[0])] = message
        elif path.startswith("$.") and "." not in path[2:]:
            by_field[path[2:]] = message
        else:
            general.append(f"{path}: {message}")
    return by_field, general
