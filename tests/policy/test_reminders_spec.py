"""Per-tier reminders before the SLA, escalation after it, and people's Slack ids, as the policy states them."""

from __future__ import annotations

import pytest

from policy import PolicyLoadError, load_policy_text
from tests.policy.texts import SMALL_POLICY, where

PM_TIER = "2: {name: PM, approvers: {role: tech_pm, count: 1, exclude_filer: true}, sla: 3d}"


def with_pm_tier(extra: str) -> str:
    return SMALL_POLICY.replace(PM_TIER, PM_TIER[:-1] + ", " + extra + "}")


def test_reminders_and_escalation_compile() -> None:
    policy = load_policy_text(with_pm_tier("remind: [90%, 50%], escalate_to: director"), "p.yaml")
    assert policy.tiers[2].remind == (0.5, 0.9)
    assert policy.tiers[2].escalate_to == "director"
    assert policy.tiers[3].remind == () and policy.tiers[3].escalate_to is None
    by_person = load_policy_text(with_pm_tier("escalate_to: dana"), "p.yaml")
    assert by_person.tiers[2].escalate_to == "dana"


@pytest.mark.parametrize(
    ("extra", "snippet", "message"),
    [
        ("remind: [100%]", "100%", "is not before the SLA"),
        ("remind: [0%]", "0%", "is not before the SLA"),
        ("escalate_to: danna", "danna", "neither a role nor a person"),
    ],
)
def test_bad_reminders_and_escalation_are_located(extra: str, snippet: str, message: str) -> None:
    text = with_pm_tier(extra)
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_text(text, "p.yaml")
    [issue] = caught.value.issues
    assert message in issue.message
    assert (issue.line, issue.column) == where(text, snippet)
    if snippet == "danna":
        assert issue.hint == "did you mean 'dana'?"


def test_reminders_need_an_sla() -> None:
    text = SMALL_POLICY.replace(
        "3: {name: Director, approvers: {role: director}, sla: 5d}",
        "3: {name: Director, approvers: {role: director}, remind: [50%]}",
    )
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_text(text, "p.yaml")
    assert "has no `sla`" in caught.value.issues[0].message


def test_a_slack_id_is_a_slack_member_id() -> None:
    policy = load_policy_text(
        SMALL_POLICY.replace("tomas: {roles: [tech_pm]", "tomas: {slack: U0TOMAS1, roles: [tech_pm]"), "p.yaml"
    )
    assert policy.people["tomas"].slack == "U0TOMAS1"
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_text(
            SMALL_POLICY.replace("tomas: {roles: [tech_pm]", "tomas: {slack: '<!channel>', roles: [tech_pm]"), "p.yaml"
        )
    [issue] = caught.value.issues
    assert "[UW][A-Z0-9]" in issue.message and issue.line == 8
