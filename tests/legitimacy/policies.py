"""Policy variants of issue 14: the default policy with stricter quorums, written beside the test."""

from __future__ import annotations

from pathlib import Path

from tests.support import DEFAULT_POLICY

TIER2_DEFAULT = "approvers: {role: tech_pm, count: 1, exclude_filer: true}"
TIER3_DEFAULT = "approvers: {role: director, count: 1, exclude_filer: true}"

#: name -> {default approver rule: replacement}
VARIANTS: dict[str, dict[str, str]] = {
    "default": {},
    # Tier 2 needs two tech PMs.
    "tier2_count2": {TIER2_DEFAULT: "approvers: {role: tech_pm, count: 2, exclude_filer: true}"},
    # Tier 3 needs a director and a tech PM.
    "tier3_distinct_role": {
        TIER3_DEFAULT: "approvers: {roles: [director, tech_pm], count: 2, distinct: role, exclude_filer: true}"
    },
    # Tier 2 needs tech PMs of two squads.
    "tier2_distinct_squad": {
        TIER2_DEFAULT: "approvers: {role: tech_pm, count: 2, distinct: squad, exclude_filer: true}"
    },
}


def variant_text(name: str, base: str | None = None) -> str:
    text = base if base is not None else DEFAULT_POLICY.read_text(encoding="utf-8")
    for old, new in VARIANTS[name].items():
        assert text.count(old) == 1, f"the default policy no longer has {old!r}"
        text = text.replace(old, new)
    return text


def write_variant(directory: Path, name: str) -> Path:
    path = directory / f"policies-{name}.yaml"
    path.write_text(variant_text(name), encoding="utf-8")
    return path
