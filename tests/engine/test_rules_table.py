"""docs/rules.md is the rule book as `engine.lifecycle.decide` applies it: generated, and checked
against decide for every command, actor and state, so the table cannot drift from the rules."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine import lifecycle
from engine.errors import DomainError
from engine.lifecycle import Authority, DecisionState, Grant, decide, state_of
from engine.read_model import fold
from engine.rules_table import ALL_STATUSES, RULES, Rule, markdown
from policy import load_policy
from tests.support import DEFAULT_POLICY, REPO

POLICY = load_policy(DEFAULT_POLICY)
NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
GRANTS = (
    Grant("G1", "priya", "ravi", "tech_pm", NOW - timedelta(days=1), NOW + timedelta(days=1)),
    Grant("G2", "tomas", "lena", "tech_pm", NOW - timedelta(days=1), NOW + timedelta(days=1)),
)
AUTHORITY = Authority(POLICY, NOW, GRANTS)
# Relative to a tier-2 decision filed by tomas (a tech PM of squad nucleus).
ACTORS = {
    "filer": "tomas",
    "approver": "priya",
    "delegate": "ravi",
    "filer's delegate": "lena",
    "squad": "jon",
    "auditor": "ann",
}


def _decision(status: str) -> DecisionState:
    filing = decide(
        lifecycle.File("Loosen the bound", "quality_threshold", {"deviation_pct": 3.5}),
        POLICY.people["tomas"],
        AUTHORITY,
        decision_id="D1",
    )
    event = filing.events[0]
    body = {"type": event.type, "seq": 0, "at": "2026-03-02T17:00:00.000000Z", "actor": "tomas"}
    row = fold(None, {**body, "decision_id": "D1", "data": event.data})
    assert row is not None and row["tier"] == 2
    return dataclasses.replace(state_of(row), status=status)


def _command(rule: Rule, state: DecisionState) -> tuple[lifecycle.Command, dict[str, object]]:
    name = rule.command.split(" ")[0]
    commands: dict[str, lifecycle.Command] = {
        "approve": lifecycle.GiveVerdict("approve"),
        "reject": lifecycle.GiveVerdict("reject", "needs data"),
        "withdraw": lifecycle.Withdraw("changed my mind"),
        "amend": lifecycle.Amend(title="Loosen the bound a little"),
        "proceed": lifecycle.Proceed("the delivery is due today"),
        "comment": lifecycle.Comment("noted"),
    }
    if name == "supersede":
        replacement = lifecycle.File("Replace it", "quality_threshold", {"deviation_pct": 1.0}, supersedes=state.id)
        return replacement, {"related": state, "decision_id": "D2"}
    return commands[name], {"state": state}


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.command)
def test_decide_allows_exactly_what_the_table_says(rule: Rule) -> None:
    for status in ALL_STATUSES:
        state = _decision(status)
        for relation, name in ACTORS.items():
            command, where = _command(rule, state)
            try:
                outcome = decide(command, POLICY.people[name], AUTHORITY, **where)  # type: ignore[arg-type]
                allowed = bool(outcome.events)
            except DomainError:
                allowed = False
            expected = relation in rule.actors and status in rule.states
            assert allowed == expected, f"{rule.command} by {relation} ({name}) on a {status} decision"


def test_docs_rules_md_is_generated_from_the_table() -> None:
    assert (REPO / "docs" / "rules.md").read_text(encoding="utf-8") == markdown(), (
        "docs/rules.md is stale: run `python -m engine.rules_table > docs/rules.md`"
    )


def test_every_table_row_names_a_real_command_and_the_file_exists() -> None:
    assert Path(REPO / "docs" / "rules.md").exists()
    assert {r.command.split(" ")[0] for r in RULES} == {
        "approve",
        "reject",
        "withdraw",
        "amend",
        "proceed",
        "comment",
        "supersede",
    }
