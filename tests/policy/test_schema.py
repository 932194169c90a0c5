"""The generated JSON Schema describes policies.yaml."""

from __future__ import annotations

from typing import Any

import msgspec
import yaml

from policy.schema import policy_json_schema
from tests.support import DEFAULT_POLICY


def _problems(value: Any, schema: dict[str, Any], defs: dict[str, Any], path: str) -> list[str]:
    """A small structural check (type, required, additionalProperties, enum, anyOf, items, range)."""
    if "$ref" in schema:
        return _problems(value, defs[schema["$ref"].split("/")[-1]], defs, path)
    if "anyOf" in schema:
        options = [_problems(value, option, defs, path) for option in schema["anyOf"]]
        return [] if any(not o for o in options) else [f"{path}: matches no option"]
    if "enum" in schema:
        return [] if value in schema["enum"] else [f"{path}: {value!r} not in enum"]
    kind = schema.get("type")
    checks = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
    if kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind in checks:
        ok = isinstance(value, checks[kind])
    else:
        ok = True
    if not ok:
        return [f"{path}: expected {kind}"]
    problems: list[str] = []
    if ("minimum" in schema and value < schema["minimum"]) or ("maximum" in schema and value > schema["maximum"]):
        problems.append(f"{path}: out of range")
    if kind == "object":
        props = schema.get("properties", {})
        problems += [f"{path}: missing {r}" for r in schema.get("required", []) if r not in value]
        for key, item in value.items():
            if "propertyNames" in schema:
                problems += _problems(key, schema["propertyNames"], defs, f"{path}.{key}(key)")
            if key in props:
                problems += _problems(item, props[key], defs, f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                problems.append(f"{path}: unexpected {key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                problems += _problems(item, schema["additionalProperties"], defs, f"{path}.{key}")
    if kind == "array":
        for i, item in enumerate(value):
            problems += _problems(item, schema.get("items", {}), defs, f"{path}[{i}]")
    return problems


def test_default_policy_validates_against_the_schema() -> None:
    schema = policy_json_schema()
    # As an editor sees it: JSON types, string keys, dates as text.
    data = msgspec.to_builtins(yaml.safe_load(DEFAULT_POLICY.read_text()), str_keys=True)
    assert _problems(data, schema, schema["$defs"], "$") == []


def test_schema_names_the_top_level_keys() -> None:
    schema = policy_json_schema()
    top = schema["$defs"]["PolicySpec"]
    assert {"version", "timezone", "tiers", "categories"} <= set(top["required"])
    assert {"parameters", "people", "reviews", "unknown_category_tier", "metrics"} <= set(top["properties"])
    assert top["additionalProperties"] is False
    roles = schema["$defs"]["PersonSpec"]["properties"]["roles"]["items"]["enum"]
    assert "tech_pm" in roles


def test_schema_rejects_a_misspelt_key() -> None:
    schema = policy_json_schema()
    data = msgspec.to_builtins(yaml.safe_load(DEFAULT_POLICY.read_text()), str_keys=True)
    data["categories"]["pipeline"]["base_teir"] = data["categories"]["pipeline"].pop("base_tier")
    assert _problems(data, schema, schema["$defs"], "$")
