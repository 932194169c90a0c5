"""A `policy` decision activates the policy it names: the loader refuses a file under which one could land
in a tier the squad resolves, whatever its attributes, at the line and column of each entry that allows it.

The tiers a `policy` decision can land in are its floor (base_tier; unknown_category_tier when the category
is not declared) and every tier above it: rules only raise a tier, and a decision that supersedes another
takes at least the tier it replaces. Each test below writes one route and checks it is refused where written.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import main
from engine.classify import classify
from policy import PolicyIssue, PolicyLoadError, load_policy, load_policy_text
from tests.policy.texts import where
from tests.support import DEFAULT_POLICY

GUARDED = """\
version: 1
timezone: UTC
people:
  dana: {roles: [director]}
  tomas: {roles: [tech_pm], squad: nucleus}
  mei: {roles: [squad_member], squad: nucleus}
tiers:
  1: {name: Squad, approval: self}
  2: {name: PM, approvers: {role: tech_pm}}
  3: {name: Director, approvers: {role: director}}
categories:
  policy:
    fields:
      candidate_version: {type: string, required: true}
      scope: {type: string, enum: [minor, major]}
    base_tier: 2
    rules:
      - id: major
        when: {scope: major}
        tier: 3
  other:
    base_tier: 1
"""

HARM = "any squad member could activate a policy of their choosing"
DIRECTOR = "  3: {name: Director, approvers: {role: director}}"
SQUAD_THREE = "  3: {name: Squad review, approval: self}"


def _refused(text: str) -> list[PolicyIssue]:
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_text(text, "p.yaml")
    return caught.value.issues


def _one(text: str) -> PolicyIssue:
    issues = _refused(text)
    assert len(issues) == 1, [str(i) for i in issues]
    return issues[0]


def _swap(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_the_guarded_small_policy_and_the_default_policy_load() -> None:
    policy = load_policy_text(GUARDED, "p.yaml")
    for scope in ("minor", "major"):
        assert classify(policy, "policy", {"candidate_version": "x", "scope": scope}).tier in (2, 3)
    assert load_policy(DEFAULT_POLICY).categories["policy"].base_tier == 3


def test_a_base_tier_the_squad_resolves_is_refused_at_the_base_tier() -> None:
    text = _swap(GUARDED, "    base_tier: 2\n", "    base_tier: 1\n")
    issue = _one(text)
    assert (issue.line, issue.column) == where(text, "1\n    rules")
    assert "base_tier 1 (Squad) is resolved by the squad without sign-off" in issue.message
    assert HARM in issue.message and "base_tier: 3" in (issue.hint or "")
    assert str(issue).startswith(f"p.yaml:{issue.line}:{issue.column}: a `policy` decision activates")


def test_the_default_policy_with_policy_at_tier_1_is_refused(tmp_path: Path) -> None:
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    head, tail = text.split("\n  policy:\n")
    text = head + "\n  policy:\n" + _swap(tail, "base_tier: 3", "base_tier: 1")
    path = tmp_path / "policies.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyLoadError) as caught:
        load_policy(path)
    [issue] = caught.value.issues
    policy_at = text.index("\n  policy:\n")
    value = text.index("base_tier: 1", policy_at) + len("base_tier: ")
    line, column = text.count("\n", 0, value) + 1, value - text.rfind("\n", 0, value)
    assert (issue.file, issue.line, issue.column) == (str(path), line, column)


def test_a_rule_raising_policy_into_a_squad_tier_is_refused_at_the_rule() -> None:
    # Tier 3 is resolved by the squad here: the rule `major` takes a `policy` decision there.
    text = _swap(GUARDED, DIRECTOR, SQUAD_THREE)
    issue = _one(text)
    assert (issue.line, issue.column) == where(text, "3\n  other:")
    assert "rule 'major' raises a `policy` decision to tier 3 (Squad review)" in issue.message
    assert HARM in issue.message


def test_a_rule_naming_a_squad_tier_below_the_base_is_refused_though_it_could_never_apply() -> None:
    # Rules only raise a tier (max of base_tier and every match): classification would stay at 2, but the
    # rule's only meaning is that the squad may activate policies.
    text = _swap(GUARDED, "        tier: 3\n", "        tier: 1\n")
    issue = _one(text)
    assert (issue.line, issue.column) == where(text, "1\n  other:")
    assert "rule 'major' gives a `policy` decision tier 1 (Squad)" in issue.message
    assert "rules only raise a tier, so it could never apply" in issue.message


def test_a_squad_tier_above_the_base_is_refused_even_with_no_rule_reaching_it() -> None:
    # No rule names tier 3, but a `policy` decision that supersedes a tier-3 decision lands in tier 3.
    text = _swap(_swap(GUARDED, DIRECTOR, SQUAD_THREE), "        tier: 3\n", "        tier: 2\n")
    issue = _one(text)
    assert (issue.line, issue.column) == where(text, "self}\ncategories")
    assert "a `policy` decision lands in it by superseding a tier-3 decision" in issue.message
    assert "give tier 3 `approvers`" in (issue.hint or "")


def test_an_undeclared_policy_category_falling_to_a_squad_unknown_category_tier_is_refused() -> None:
    head, tail = GUARDED.split("  policy:\n")
    undeclared = head + tail[tail.index("  other:\n") :]
    assert load_policy_text(undeclared, "p.yaml").unknown_category_tier == 3
    text = undeclared + "unknown_category_tier: 1\n"
    issue = _one(text)
    assert (issue.line, issue.column) == where(text, "unknown_category_tier: 1", len("unknown_category_tier: "))
    assert "no `policy` category is declared" in issue.message and "unknown_category_tier 1 (Squad)" in issue.message
    # Unwritten, unknown_category_tier is 3: refused at tier 3's `approval: self` when the squad resolves it.
    text = _swap(undeclared, DIRECTOR, SQUAD_THREE)
    issue = _one(text)
    assert (issue.line, issue.column) == where(text, "self}\ncategories")
    assert "unknown_category_tier 3 (the default)" in issue.message


def test_every_route_is_reported_in_one_pass() -> None:
    text = _swap(_swap(GUARDED, "    base_tier: 2\n", "    base_tier: 1\n"), DIRECTOR, SQUAD_THREE)
    text = _swap(text, "  2: {name: PM, approvers: {role: tech_pm}}", "  2: {name: PM, approval: self}")
    issues = _refused(text)
    # The base tier, and the rule raising to tier 3; tier 2 (reached by superseding) at its `approval: self`.
    assert [(i.line, i.column) for i in issues] == sorted(
        [where(text, "self}\n  3:"), where(text, "1\n    rules"), where(text, "3\n  other:")]
    )


def test_policy_check_cli_names_the_file_line_and_column(tmp_path: Path) -> None:
    text = _swap(GUARDED, "    base_tier: 2\n", "    base_tier: 1\n")
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["policy", "check", str(path)])
    assert result.exit_code == 1
    line, column = where(text, "1\n    rules")
    assert f"{path}:{line}:{column}: a `policy` decision activates the policy it names" in result.output
