"""Small policy texts for tests, and a helper to find where a snippet sits in them."""

from __future__ import annotations

SMALL_POLICY = """\
version: 1
timezone: America/Los_Angeles
parameters:
  bound: 2.0
  kinds_allowed: a
people:
  dana: {roles: [director]}
  tomas: {roles: [tech_pm], squad: nucleus}
  mei: {roles: [squad_member], squad: nucleus}
tiers:
  1: {name: Squad, approval: self, review: weekly}
  2: {name: PM, approvers: {role: tech_pm, count: 1, exclude_filer: true}, sla: 3d}
  3: {name: Director, approvers: {role: director}, sla: 5d}
reviews:
  weekly: {every: 1w, anchor: 2026-01-05}
categories:
  q:
    fields:
      dev: {type: number, required: true}
      kind: {type: string, enum: [a, b, no]}
    base_tier: 1
    rules:
      - id: r1
        when: {dev: {gt: $bound}}
        tier: 2
"""


def where(text: str, snippet: str, offset: int = 0) -> tuple[int, int]:
    """1-based (line, column) of the first `snippet` in `text`, moved `offset` characters right."""
    index = text.index(snippet) + offset
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def policy_with_rules(rules: list[tuple[str, float, int]], base_tier: int = 1) -> str:
    """A policy whose category `c` has a number field `x` and one `x > threshold` rule per entry."""
    lines = [
        "version: 1",
        "timezone: UTC",
        "tiers:",
        "  1: {name: Squad, approval: self}",
        "  2: {name: PM, approvers: {role: tech_pm}}",
        "  3: {name: Director, approvers: {role: director}}",
        "categories:",
        "  c:",
        "    fields: {x: {type: number, required: true}}",
        f"    base_tier: {base_tier}",
        "    rules:" if rules else "    rules: []",
    ]
    for rule_id, threshold, tier in rules:
        lines.append(f"      - {{id: {rule_id}, when: {{x: {{gt: {threshold!r}}}}}, tier: {tier}}}")
    return "\n".join(lines) + "\n"
