"""Filed attributes are validated against the category's declared fields."""

from __future__ import annotations

import math
from typing import Any

import pytest

from policy import load_policy
from policy.compiled import AttributesInvalid, Policy
from tests.support import DEFAULT_POLICY


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(DEFAULT_POLICY)


def errors(policy: Policy, category: str, attributes: Any) -> dict[str, str]:
    with pytest.raises(AttributesInvalid) as caught:
        policy.categories[category].validate(attributes)
    return {e.path: e.message for e in caught.value.errors}


def test_defaults_are_filled_and_input_is_not_changed(policy: Policy) -> None:
    given = {"deviation_pct": 1}
    assert policy.categories["quality_threshold"].validate(given) == {"deviation_pct": 1, "affected_clients": 1}
    assert given == {"deviation_pct": 1}


def test_null_counts_as_not_given(policy: Policy) -> None:
    result = policy.categories["quality_threshold"].validate({"deviation_pct": 1.0, "affected_clients": None})
    assert result["affected_clients"] == 1
    assert "$.attributes.deviation_pct" in errors(policy, "quality_threshold", {"deviation_pct": None})


def test_unknown_attribute_suggests_the_field(policy: Policy) -> None:
    found = errors(policy, "pipeline", {"risk": 3})
    assert "did you mean 'risk_score'?" in found["$.attributes.risk"]
    assert "is required" in found["$.attributes.risk_score"]


@pytest.mark.parametrize(
    ("category", "attributes", "field", "fragment"),
    [
        ("quality_threshold", {"deviation_pct": True}, "deviation_pct", "must be a number, got true"),
        ("quality_threshold", {"deviation_pct": "1.5"}, "deviation_pct", "must be a number"),
        ("quality_threshold", {"deviation_pct": math.nan}, "deviation_pct", "finite"),
        ("quality_threshold", {"deviation_pct": math.inf}, "deviation_pct", "finite"),
        ("quality_threshold", {"deviation_pct": 1, "affected_clients": 2.0}, "affected_clients", "whole number"),
        ("quality_threshold", {"deviation_pct": 1, "affected_clients": -1}, "affected_clients", "at least 0"),
        ("pipeline", {"risk_score": 101}, "risk_score", "at most 100"),
        ("pipeline", {"risk_score": False}, "risk_score", "whole number"),
        ("domain", {"change": "new_categry"}, "change", "did you mean 'new_category'?"),
        ("reporting_format", {"client_format": 3}, "client_format", "must be text"),
    ],
)
def test_invalid_values_name_the_field(
    policy: Policy, category: str, attributes: dict[str, Any], field: str, fragment: str
) -> None:
    found = errors(policy, category, attributes)
    assert list(found) == [f"$.attributes.{field}"]
    assert fragment in found[f"$.attributes.{field}"]


def test_every_problem_is_listed(policy: Policy) -> None:
    found = errors(policy, "domain", {"change": "x", "domain": "maths", "colour": "red"})
    assert set(found) == {"$.attributes.change", "$.attributes.domain", "$.attributes.colour"}


def test_attributes_must_be_an_object(policy: Policy) -> None:
    assert list(errors(policy, "pipeline", ["risk_score", 3])) == ["$.attributes"]
