"""Classification: the reference table, explanations, unknown categories, and tier properties."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.classify import ExampleFailure, MatchedRule, classify, run_examples
from policy import load_policy, load_policy_text
from policy.compiled import AttributesInvalid, Policy
from tests.policy.texts import policy_with_rules
from tests.support import DEFAULT_POLICY


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(DEFAULT_POLICY)


@pytest.mark.parametrize(
    ("category", "attributes", "tier"),
    [
        ("quality_threshold", {"deviation_pct": 1.5}, 1),  # deviation within the bound: squad
        ("pipeline", {"risk_score": 12}, 1),  # pipeline adjustment below the risk threshold: squad
        ("reporting_format", {"client_format": "dashboard"}, 1),
        ("domain", {"change": "new_category", "domain": "code"}, 2),  # domain expansion: tech PM
        ("quality_threshold", {"deviation_pct": 3.0}, 2),  # beyond the bound
        ("quality_threshold", {"deviation_pct": 0.5, "affected_clients": 4}, 2),  # cross-client
        ("pipeline", {"risk_score": 75}, 2),
        ("annotator_tier", {"annotator": "a-7"}, 2),
        ("contract", {"change": "scope"}, 3),  # contract scope change: director
        ("client_onboarding", {"client": "acme"}, 3),
        ("benchmark", {}, 3),
    ],
)
def test_reference_table(policy: Policy, category: str, attributes: dict[str, object], tier: int) -> None:
    result = classify(policy, category, attributes)
    assert result.tier == tier
    assert result.known_category
    assert result.policy_version == policy.version


def test_every_matching_rule_is_reported_in_file_order(policy: Policy) -> None:
    result = classify(policy, "quality_threshold", {"affected_clients": 2, "deviation_pct": 9})
    assert result.tier == 2 and result.base_tier == 1
    assert [r.id for r in result.matched_rules] == ["beyond-bound", "cross-client"]
    assert result.matched_rules[0] == MatchedRule("beyond-bound", 2, "deviation beyond the quality bound")


def test_validated_attributes_are_returned_with_defaults(policy: Policy) -> None:
    result = classify(policy, "quality_threshold", {"deviation_pct": 1})
    assert result.attributes == {"deviation_pct": 1, "affected_clients": 1}


def test_invalid_attributes_are_refused(policy: Policy) -> None:
    with pytest.raises(AttributesInvalid) as caught:
        classify(policy, "pipeline", {"risk_score": "high"})
    assert [e.path for e in caught.value.errors] == ["$.attributes.risk_score"]


def test_unknown_category_fails_closed(policy: Policy) -> None:
    result = classify(policy, "space_program", {"anything": [1, 2]})
    assert (result.tier, result.base_tier, result.known_category) == (3, 3, False)
    assert result.matched_rules == ()
    assert result.attributes == {"anything": [1, 2]}


def test_rule_description_defaults_to_the_condition() -> None:
    policy = load_policy_text(policy_with_rules([("big", 10.0, 2)]))
    (matched,) = classify(policy, "c", {"x": 11}).matched_rules
    assert matched.description == "x > 10.0"


def test_run_examples_reports_wrong_tiers_and_invalid_attributes() -> None:
    text = policy_with_rules([("big", 10.0, 2)]) + (
        "    examples:\n"
        "      - {attributes: {x: 11}, tier: 2}\n"
        "      - {attributes: {x: 11}, tier: 3}\n"
        "      - {attributes: {y: 1}, tier: 1}\n"
    )
    failures = run_examples(load_policy_text(text, "p.yaml"))
    assert [(f.index, f.expected, f.got) for f in failures] == [(1, 3, 2), (2, 1, None)]
    assert failures[0].location is not None and (failures[0].location.line, failures[0].location.column) == (15, 9)
    assert "$.attributes.y" in (failures[1].error or "")
    assert str(failures[0]).startswith("p.yaml:15:9: c example 2: expected tier 3, got tier 2")
    assert isinstance(failures[0], ExampleFailure)


_rules = st.lists(st.tuples(st.integers(-50, 50).map(float), st.integers(1, 3)), min_size=0, max_size=6)


def _named(rules: list[tuple[float, int]]) -> list[tuple[str, float, int]]:
    return [(f"r{i}", threshold, tier) for i, (threshold, tier) in enumerate(rules)]


@settings(max_examples=60, deadline=None)
@given(rules=_rules, base=st.integers(1, 3), x=st.integers(-60, 60), seed=st.integers(0, 2**16))
def test_tier_is_the_max_of_base_and_matching_rules_in_any_order(
    rules: list[tuple[float, int]], base: int, x: int, seed: int
) -> None:
    named = _named(rules)
    expected = max([base, *(tier for _, threshold, tier in named if x > threshold)])
    result = classify(load_policy_text(policy_with_rules(named, base)), "c", {"x": x})
    assert result.tier == expected
    assert [r.id for r in result.matched_rules] == [rid for rid, threshold, _ in named if x > threshold]

    shuffled = named[:]
    random.Random(seed).shuffle(shuffled)
    reordered = classify(load_policy_text(policy_with_rules(shuffled, base)), "c", {"x": x})
    assert reordered.tier == result.tier
    assert {r.id for r in reordered.matched_rules} == {r.id for r in result.matched_rules}


@settings(max_examples=40, deadline=None)
@given(
    rules=_rules,
    extra=st.tuples(st.integers(-50, 50).map(float), st.integers(1, 3)),
    base=st.integers(1, 3),
    xs=st.lists(st.integers(-60, 60), min_size=1, max_size=5),
)
def test_adding_a_rule_never_lowers_a_tier(
    rules: list[tuple[float, int]], extra: tuple[float, int], base: int, xs: list[int]
) -> None:
    before = load_policy_text(policy_with_rules(_named(rules), base))
    after = load_policy_text(policy_with_rules([*_named(rules), ("added", *extra)], base))
    for x in xs:
        assert classify(after, "c", {"x": x}).tier >= classify(before, "c", {"x": x}).tier


# -- the generated per-category classifiers follow the definition --------------------------------------

_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 200),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["new_category", "rubric_update", "scope", "mmlu", "add", "code", "safety", "dashboard", "x"]),
    st.lists(st.sampled_from(["a", "b"]), max_size=2),
)


_DEFAULT = load_policy(DEFAULT_POLICY)


@st.composite
def _filings(draw: st.DrawFn) -> tuple[str, dict[str, object]]:
    category = draw(st.sampled_from(sorted(_DEFAULT.categories)))
    names = [*_DEFAULT.categories[category].fields, "unknown_field"]
    attributes = draw(st.dictionaries(st.sampled_from(names), _values, max_size=4))
    return category, attributes


@settings(max_examples=500, deadline=None)
@given(filing=_filings())
def test_generated_classifiers_agree_with_the_rule_loop(policy: Policy, filing: tuple[str, dict[str, object]]) -> None:
    from engine.classify import classify_by_rules

    category, attributes = filing
    spec = policy.categories[category]
    assert spec.classifier is not None
    try:
        expected = classify_by_rules(policy, spec, attributes)
    except AttributesInvalid as exc:
        with pytest.raises(AttributesInvalid) as got:
            spec.classifier(attributes)
        assert got.value.errors == exc.errors
        return
    assert spec.classifier(attributes) == expected
