"""Classification (pure): the tier a decision needs under a policy, and why.

tier = max(base_tier, tier of every matching rule). Rules only raise a tier, so their order
never matters and adding one can never lower the authority a decision needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from policy.compiled import AttributesInvalid, Category, Classification, Location, MatchedRule, Policy

__all__ = ["Classification", "ExampleFailure", "MatchedRule", "classify", "classify_by_rules", "run_examples"]


def classify(policy: Policy, category: str, attributes: Mapping[str, Any]) -> Classification:
    """Classify; raises AttributesInvalid (every problem, as `$.attributes.<field>`) for bad input."""
    generated = policy.classifiers.get(category)
    if generated is not None:
        return generated(attributes)  # the steps of classify_by_rules, generated once per category at load
    spec = policy.categories.get(category)
    if spec is None:
        fail_closed = policy.unknown_category_tier
        return Classification(category, fail_closed, fail_closed, (), policy.version, False, dict(attributes))
    return classify_by_rules(policy, spec, attributes)


def classify_by_rules(policy: Policy, spec: Category, attributes: Mapping[str, Any]) -> Classification:
    """The definition the generated classifiers follow (and are tested against)."""
    valid = spec.validator(attributes)
    tier = spec.base_tier
    matched: list[MatchedRule] = []
    for rule in spec.rules:
        if rule.matches(valid):
            matched.append(rule.as_matched)
            if rule.tier > tier:
                tier = rule.tier
    return Classification(spec.name, tier, spec.base_tier, tuple(matched), policy.version, True, valid)


@dataclass(frozen=True, slots=True)
class ExampleFailure:
    """A policy example whose tier is not the one it expects (or whose attributes are invalid)."""

    category: str
    index: int
    location: Location | None
    expected: int
    got: int | None
    #: Why there is no tier, when the example's attributes do not validate.
    error: str | None = None

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        outcome = f"invalid attributes: {self.error}" if self.error else f"got tier {self.got}"
        return f"{where}{self.category} example {self.index + 1}: expected tier {self.expected}, {outcome}"


def run_examples(policy: Policy) -> list[ExampleFailure]:
    """Classify every category's examples; the failures, in file order (empty when all pass)."""
    failures = []
    for name, category in policy.categories.items():
        for index, example in enumerate(category.examples):
            try:
                got = classify(policy, name, example.attributes).tier
            except AttributesInvalid as exc:
                failures.append(ExampleFailure(name, index, example.location, example.tier, None, str(exc)))
                continue
            if got != example.tier:
                failures.append(ExampleFailure(name, index, example.location, example.tier, got))
    return failures
