"""The filer never approves their own decision, whatever the policy says: the loader refuses
`exclude_filer: false` at the line and column of the `false`, with a hint, and still loads files that
write `exclude_filer: true` or leave it out."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import main
from policy import PolicyIssue, PolicyLoadError, load_policy, load_policy_text
from policy.schema import policy_json_schema
from tests.policy.texts import SMALL_POLICY, where
from tests.support import DEFAULT_POLICY

TIER_2 = "approvers: {role: tech_pm, count: 1, exclude_filer: true}"
TIER_3 = "approvers: {role: director}"
MESSAGE = "says `exclude_filer: false`, but the filer never approves their own decision, whatever the policy says"


def _swap(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def _refused(text: str) -> list[PolicyIssue]:
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_text(text, "p.yaml")
    return caught.value.issues


def test_true_or_left_out_loads() -> None:
    # SMALL_POLICY writes `exclude_filer: true` for tier 2 and leaves it out for tier 3.
    assert TIER_2 in SMALL_POLICY and TIER_3 in SMALL_POLICY
    policy = load_policy_text(SMALL_POLICY, "p.yaml")
    for number in (2, 3):
        approvers = policy.tiers[number].approvers
        assert approvers is not None and approvers.exclude_filer is True
    load_policy(DEFAULT_POLICY)


def test_false_is_refused_at_its_line_and_column_with_a_hint() -> None:
    text = _swap(SMALL_POLICY, TIER_2, TIER_2.replace("exclude_filer: true", "exclude_filer: false"))
    [issue] = _refused(text)
    assert (issue.line, issue.column) == where(text, "false}")
    assert issue.message.startswith("tier 2 " + MESSAGE)
    assert "not in their own right, not on anyone's behalf" in issue.message
    assert "delete `exclude_filer`" in (issue.hint or "") and "`approval: self`" in (issue.hint or "")
    assert str(issue).startswith(f"p.yaml:{issue.line}:{issue.column}: tier 2 says `exclude_filer: false`")


def test_false_in_block_style_is_refused_where_written() -> None:
    block = "approvers:\n      role: director\n      exclude_filer: false"
    text = _swap(
        SMALL_POLICY,
        "  3: {name: Director, approvers: {role: director}, sla: 5d}",
        "  3:\n    name: Director\n    " + block + "\n    sla: 5d",
    )
    [issue] = _refused(text)
    assert (issue.line, issue.column) == where(text, "false\n")
    assert issue.message.startswith("tier 3 " + MESSAGE)


def test_every_tier_saying_false_is_reported_in_one_pass() -> None:
    text = _swap(SMALL_POLICY, TIER_2, TIER_2.replace("exclude_filer: true", "exclude_filer: false"))
    text = _swap(text, TIER_3, "approvers: {role: director, exclude_filer: false}")
    issues = _refused(text)
    assert [(i.line, i.column) for i in issues] == [where(text, "false}, sla: 3d"), where(text, "false}, sla: 5d")]
    assert [i.message.split(" ", 2)[1] for i in issues] == ["2", "3"]


def test_the_default_policy_saying_false_is_refused_at_the_file_line_and_column(tmp_path: Path) -> None:
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    text = _swap(
        text, "{role: director, count: 1, exclude_filer: true}", "{role: director, count: 1, exclude_filer: false}"
    )
    path = tmp_path / "policies.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyLoadError) as caught:
        load_policy(path)
    [issue] = caught.value.issues
    assert (issue.file, issue.line, issue.column) == (str(path), *where(text, "false}"))
    result = CliRunner().invoke(main, ["policy", "check", str(path)])
    assert result.exit_code == 1
    line, column = where(text, "false}")
    assert f"{path}:{line}:{column}: tier 3 says `exclude_filer: false`" in result.output


def test_the_json_schema_tells_editors_it_is_always_true() -> None:
    field = policy_json_schema()["$defs"]["ApproversSpec"]["properties"]["exclude_filer"]
    assert field["const"] is True and field["default"] is True
