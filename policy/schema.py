"""JSON Schema for `policies.yaml`, generated from the same Structs the loader uses."""

from __future__ import annotations

from typing import Any

import msgspec

from policy.spec import PolicySpec


def policy_json_schema() -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) editors can use to check policies.yaml as it is typed.

    YAML writes tier numbers as mapping keys (`1:`), which JSON sees as the strings "1".."3";
    the schema says so, since msgspec's own schema cannot express constrained keys.
    """
    schema: dict[str, Any] = msgspec.json.schema(PolicySpec)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "decision-rights policy (policies.yaml)"
    tiers = schema["$defs"]["PolicySpec"]["properties"]["tiers"]
    tiers["propertyNames"] = {"enum": ["1", "2", "3"]}
    return schema
