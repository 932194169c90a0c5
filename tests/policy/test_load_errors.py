"""Every kind of policy mistake is reported at its line and column, with a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy import PolicyIssue, PolicyLoadError, load_policy, load_policy_text
from tests.policy.texts import SMALL_POLICY, where


def issues_of(text: str) -> list[PolicyIssue]:
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_text(text, "p.yaml")
    return caught.value.issues


def only_issue(text: str) -> PolicyIssue:
    issues = issues_of(text)
    assert len(issues) == 1, [str(i) for i in issues]
    return issues[0]


def at(issue: PolicyIssue) -> tuple[int, int]:
    return issue.line, issue.column


def test_the_small_policy_loads() -> None:
    policy = load_policy_text(SMALL_POLICY, "p.yaml")
    assert set(policy.categories) == {"q"}
    assert policy.source == "p.yaml"


def test_misspelt_key_is_located_and_corrected() -> None:
    text = SMALL_POLICY.replace("base_tier: 1", "base_teir: 1")
    issue = only_issue(text)
    assert at(issue) == where(text, "base_teir")
    assert "unknown key 'base_teir'" in issue.message
    assert issue.hint == "did you mean 'base_tier'?"


def test_misspelt_top_level_key() -> None:
    text = SMALL_POLICY.replace("people:", "peple:")
    issue = only_issue(text)
    assert at(issue) == where(text, "peple")
    assert issue.hint == "did you mean 'people'?"


def test_wrong_type_points_at_the_value() -> None:
    text = SMALL_POLICY.replace("count: 1,", "count: one,")
    issue = only_issue(text)
    assert at(issue) == where(text, "one,")
    assert "expected a whole number" in issue.message
    assert issue.hint


def test_undefined_parameter_suggests_the_closest() -> None:
    text = SMALL_POLICY.replace("$bound", "$bnd")
    issue = only_issue(text)
    assert at(issue) == where(text, "$bnd")
    assert issue.message == "undefined parameter '$bnd'"
    assert issue.hint == "did you mean '$bound'?"


def test_rule_reading_an_undeclared_field() -> None:
    text = SMALL_POLICY.replace("{dev: {gt", "{devv: {gt")
    issue = only_issue(text)
    assert at(issue) == where(text, "devv")
    assert "does not declare" in issue.message
    assert issue.hint == "did you mean 'dev'?"


def test_unknown_role() -> None:
    text = SMALL_POLICY.replace("roles: [tech_pm]", "roles: [tech-pm]")
    issue = only_issue(text)
    assert at(issue) == where(text, "tech-pm")
    assert issue.message == "unknown role 'tech-pm'"
    assert issue.hint == "did you mean 'tech_pm'?"


def test_unknown_approver_role() -> None:
    text = SMALL_POLICY.replace("role: director}", "role: directr}")
    issue = only_issue(text)
    assert at(issue) == where(text, "directr")
    assert issue.hint == "did you mean 'director'?"


@pytest.mark.parametrize(
    ("old", "new", "snippet"),
    [
        ("        tier: 2", "        tier: 4", "4\n"),
        ("base_tier: 1", "base_tier: 0", "0\n    rules"),
        ("  3: {name: Director", "  7: {name: Director", "7:"),
    ],
    ids=["rule", "base", "tier-key"],
)
def test_tier_out_of_range(old: str, new: str, snippet: str) -> None:
    text = SMALL_POLICY.replace(old, new)
    issues = issues_of(text)
    located = [i for i in issues if at(i) == where(text, snippet)]
    assert located, [str(i) for i in issues]
    assert "is not a tier" in located[0].message
    assert "1" in (located[0].hint or "") and "3" in (located[0].hint or "")


def test_undefined_tier_is_reported() -> None:
    text = SMALL_POLICY.replace("  3: {name: Director, approvers: {role: director}, sla: 5d}\n", "")
    issue = only_issue(text)
    assert at(issue) == where(text, "  1: {name: Squad", 2)
    assert issue.message == "tier 3 not defined"


def test_unknown_review_cadence() -> None:
    text = SMALL_POLICY.replace("review: weekly}", "review: weekley}")
    issue = only_issue(text)
    assert at(issue) == where(text, "weekley")
    assert issue.hint == "did you mean 'weekly'?"


@pytest.mark.parametrize("bad", ["3x", "0d", "d3"])
def test_bad_duration(bad: str) -> None:
    text = SMALL_POLICY.replace("sla: 3d", f"sla: {bad}")
    issue = only_issue(text)
    assert at(issue) == where(text, f"sla: {bad}", len("sla: "))
    assert bad in issue.message
    assert "3d" in (issue.hint or "")


def test_review_windows_last_whole_days() -> None:
    text = SMALL_POLICY.replace("every: 1w", "every: 36h")
    issue = only_issue(text)
    assert at(issue) == where(text, "36h")
    assert "whole days" in issue.message


def test_bad_timezone() -> None:
    text = SMALL_POLICY.replace("America/Los_Angeles", "America/Los_Angels")
    issue = only_issue(text)
    assert at(issue) == where(text, "America/Los_Angels")
    assert issue.hint == "did you mean 'America/Los_Angeles'?"


def test_duplicate_keys_are_refused() -> None:
    text = SMALL_POLICY.replace("  bound: 2.0\n", "  bound: 2.0\n  bound: 9.0\n")
    issue = only_issue(text)
    assert at(issue) == where(text, "  bound: 9.0", 2)
    assert "duplicate key 'bound'" in issue.message and "line 4" in issue.message


def test_duplicate_category_is_refused() -> None:
    text = SMALL_POLICY + "  q:\n    base_tier: 3\n"
    issue = only_issue(text)
    assert at(issue) == (len(text.splitlines()) - 1, 3)
    assert "duplicate key 'q'" in issue.message


def test_yaml_syntax_error() -> None:
    text = SMALL_POLICY.replace("timezone: America/Los_Angeles", "timezone: America: Los_Angeles")
    issue = only_issue(text)
    assert at(issue) == where(text, ": Los_Angeles")
    assert issue.message.startswith("YAML syntax error")
    assert "quote" in (issue.hint or "")


def test_billion_laughs_is_refused_without_expanding() -> None:
    bomb = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 9):
        prev, name = chr(ord("a") + level - 1), chr(ord("a") + level)
        bomb.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    issue = only_issue("\n".join(bomb) + "\n")
    assert at(issue) == (1, 4)
    assert "aliases" in issue.message


def test_aliases_are_refused_even_when_small() -> None:
    text = SMALL_POLICY.replace("  bound: 2.0\n", "  bound: &b 2.0\n  other: *b\n")
    issue = only_issue(text)
    assert at(issue) == where(text, "&b")


def test_yaml_no_stays_a_string_in_an_enum() -> None:
    text = SMALL_POLICY.replace("{dev: {gt: $bound}}", "{kind: no}")
    policy = load_policy_text(text, "p.yaml")
    assert policy.categories["q"].fields["kind"].enum == ("a", "b", "no")
    assert policy.categories["q"].rules[0].matches({"dev": 1, "kind": "no"})


def test_yaml_yes_is_not_a_boolean() -> None:
    text = SMALL_POLICY.replace("exclude_filer: true", "exclude_filer: yes")
    issue = only_issue(text)
    assert at(issue) == where(text, "yes}")
    assert "true or false" in issue.message
    assert "yes/no" in (issue.hint or "")


def test_yaml_leading_zero_is_decimal() -> None:
    policy = load_policy_text(SMALL_POLICY.replace("bound: 2.0", "bound: 010"), "p.yaml")
    assert policy.parameters["bound"] == 10


def test_condition_value_of_the_wrong_type() -> None:
    text = SMALL_POLICY.replace("$bound", "abc")
    issue = only_issue(text)
    assert at(issue) == where(text, "abc")
    assert "'dev' is a number field" in issue.message


def test_condition_value_outside_the_enum() -> None:
    text = SMALL_POLICY.replace("{dev: {gt: $bound}}", "{kind: {in: [a, bb]}}")
    issue = only_issue(text)
    assert at(issue) == where(text, "bb]")
    assert issue.hint == "did you mean 'b'?"


def test_unknown_operator() -> None:
    text = SMALL_POLICY.replace("{gt: $bound}", "{gtt: $bound}")
    issue = only_issue(text)
    assert at(issue) == where(text, "gtt")
    assert issue.hint == "did you mean 'gt'?"


def test_tier_needs_exactly_one_of_self_or_approvers() -> None:
    text = SMALL_POLICY.replace("approval: self,", "approval: self, approvers: {role: tech_pm},")
    issue = only_issue(text)
    assert at(issue) == where(text, "{name: Squad")
    assert "both" in issue.message


def test_bad_field_declarations() -> None:
    text = SMALL_POLICY.replace(
        "kind: {type: string, enum: [a, b, no]}",
        "kind: {type: string, enum: [a, b], default: c}\n      n: {type: integer, required: true, default: 1}",
    )
    issues = issues_of(text)
    assert [at(i) for i in issues] == [where(text, "c}"), where(text, "default: 1", len("default: "))]


def test_missing_required_key_points_at_its_owner() -> None:
    text = SMALL_POLICY.replace("    base_tier: 1\n", "")
    issue = only_issue(text)
    assert at(issue) == where(text, "  q:", 2)
    assert issue.message == "missing required key 'base_tier'"


def test_every_problem_is_reported_in_one_pass() -> None:
    text = (
        SMALL_POLICY.replace("$bound", "$bnd")
        .replace("sla: 3d", "sla: 3x")
        .replace("role: director}", "role: directr}")
        .replace("America/Los_Angeles", "Mars/Olympus")
    )
    issues = issues_of(text)
    assert [at(i) for i in issues] == [
        where(text, "Mars/Olympus"),
        where(text, "3x"),
        where(text, "directr"),
        where(text, "$bnd"),
    ]


def test_issue_text_is_file_line_column_message_hint() -> None:
    issue = PolicyIssue("p.yaml", 3, 7, "unknown key 'x'", "did you mean 'y'?")
    assert str(issue) == "p.yaml:3:7: unknown key 'x'. did you mean 'y'?"
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_text(SMALL_POLICY.replace("$bound", "$bnd"), "p.yaml")
    assert "p.yaml:24:26: undefined parameter '$bnd'. did you mean '$bound'?" in str(caught.value)


def test_empty_and_non_mapping_files() -> None:
    assert "empty" in only_issue("").message
    assert "mapping" in only_issue("- a\n- b\n").message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyLoadError) as caught:
        load_policy(tmp_path / "nope.yaml")
    assert "cannot read" in caught.value.issues[0].message


def test_version_is_the_sha256_of_the_file(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "p.yaml"
    path.write_text(SMALL_POLICY, encoding="utf-8")
    policy = load_policy(path)
    assert policy.version == hashlib.sha256(SMALL_POLICY.encode()).hexdigest()
    assert load_policy_text(SMALL_POLICY + "# a comment\n").version != policy.version
