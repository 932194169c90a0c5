"""The default policies.yaml: it loads, its examples pass, it says what DESIGN.md says."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from engine.classify import run_examples
from policy import load_policy
from policy.compiled import Policy
from tests.support import DEFAULT_POLICY


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(DEFAULT_POLICY)


def test_loads_and_every_example_passes(policy: Policy) -> None:
    assert run_examples(policy) == []
    assert all(category.examples for category in policy.categories.values())


def test_every_rule_is_covered_by_an_example(policy: Policy) -> None:
    for category in policy.categories.values():
        for rule in category.rules:
            assert any(rule.matches(category.validate(e.attributes)) for e in category.examples), rule.id
        assert any(e.tier == category.base_tier for e in category.examples), category.name


def test_tiers_and_reviews(policy: Policy) -> None:
    squad, pm, director = policy.tiers[1], policy.tiers[2], policy.tiers[3]
    assert squad.self_approved and squad.review == "weekly_sync"
    assert pm.approvers is not None and pm.approvers.role == "tech_pm" and pm.approvers.exclude_filer
    assert pm.sla == timedelta(days=3) and pm.review == "director_review"
    assert director.approvers is not None and director.approvers.role == "director"
    assert director.sla == timedelta(days=5)
    assert policy.cadences["weekly_sync"].every == timedelta(weeks=1)
    assert policy.cadences["director_review"].every == timedelta(weeks=2)
    assert policy.cadences["weekly_sync"].anchor == date(2026, 1, 5)
    assert policy.timezone_name == "America/Los_Angeles"
    assert policy.unknown_category_tier == 3


def test_people(policy: Policy) -> None:
    assert [p.name for p in policy.people_with_role("director")] == ["dana"]
    assert {p.name: p.squad for p in policy.people_with_role("tech_pm")} == {"tomas": "nucleus", "priya": "atlas"}
    squads = {p.name: p.squad for p in policy.people_with_role("squad_member")}
    assert squads == {
        "mei": "nucleus",
        "jon": "nucleus",
        "sofia": "nucleus",
        "ravi": "atlas",
        "lena": "atlas",
        "omar": "atlas",
    }
    assert policy.people["ann"].roles == {"auditor"}
    assert policy.people["adm"].roles == {"admin"}


def test_categories_are_described(policy: Policy) -> None:
    assert set(policy.categories) == {
        "quality_threshold",
        "pipeline",
        "reporting_format",
        "domain",
        "annotator_tier",
        "contract",
        "client_onboarding",
        "benchmark",
        "policy",
    }
    for category in policy.categories.values():
        assert category.description
        assert all(f.description for f in category.fields.values()), category.name
    domains = policy.categories["domain"].fields["domain"].enum
    assert domains == ("reasoning", "instruction_following", "code", "knowledge_retrieval", "safety")
