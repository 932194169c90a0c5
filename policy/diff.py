"""A semantic diff of two policies: what changes in who decides what, not which lines moved."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from policy.compiled import Policy
from policy.yaml_source import parse_yaml


class Change(msgspec.Struct, kw_only=True):
    #: parameters | people | tiers | reviews | categories | rules | fields | settings
    area: str
    #: added | removed | changed
    kind: str
    path: str
    old: Any = None
    new: Any = None

    def __str__(self) -> str:
        sign = {"added": "+", "removed": "-", "changed": "~"}[self.kind]
        if self.kind == "changed":
            return f"{sign} {self.path}: {_show(self.old)} -> {_show(self.new)}"
        return f"{sign} {self.path}: {_show(self.new if self.kind == 'added' else self.old)}"


def _show(value: Any) -> str:
    return msgspec.json.encode(value).decode() if not isinstance(value, str) else value


def _walk(area: str, path: str, old: Any, new: Any, out: list[Change]) -> None:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in list(old) + [k for k in new if k not in old]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in new:
                out.append(Change(area=area, kind="removed", path=sub, old=old[key]))
            elif key not in old:
                out.append(Change(area=area, kind="added", path=sub, new=new[key]))
            else:
                _walk(area, sub, old[key], new[key], out)
    elif old != new:
        out.append(Change(area=area, kind="changed", path=path, old=old, new=new))


def _rules_by_id(category: Any) -> dict[str, Any]:
    rules = category.get("rules", []) if isinstance(category, Mapping) else []
    return {str(r.get("id")): {k: v for k, v in r.items() if k != "id"} for r in rules if isinstance(r, Mapping)}


def diff_policies(old: Policy, old_text: str, new: Policy, new_text: str) -> list[Change]:
    """Changes grouped by area; rules are matched by id (order in the file does not matter)."""
    a = parse_yaml(old_text).data or {}
    b = parse_yaml(new_text).data or {}
    out: list[Change] = []
    for area in ("parameters", "people", "tiers", "reviews"):
        _walk(area, area, a.get(area, {}), b.get(area, {}), out)
    for setting in ("timezone", "unknown_category_tier", "metrics"):
        _walk("settings", setting, a.get(setting), b.get(setting), out)
    old_categories, new_categories = a.get("categories", {}), b.get("categories", {})
    for name in list(old_categories) + [n for n in new_categories if n not in old_categories]:
        path = f"categories.{name}"
        if name not in new_categories:
            out.append(Change(area="categories", kind="removed", path=path, old=old.categories[name].base_tier))
            continue
        if name not in old_categories:
            out.append(
                Change(
                    area="categories", kind="added", path=path, new={"base_tier": new_categories[name].get("base_tier")}
                )
            )
            continue
        oc, nc = old_categories[name], new_categories[name]
        _walk("categories", f"{path}.base_tier", oc.get("base_tier"), nc.get("base_tier"), out)
        _walk("fields", f"{path}.fields", oc.get("fields", {}), nc.get("fields", {}), out)
        _walk("rules", f"{path}.rules", _rules_by_id(oc), _rules_by_id(nc), out)
    return out
