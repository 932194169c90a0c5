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


def _distance(a: str, b: str) -> int:
    """Edit distance with transpositions (optimal string alignment): `pipline` is 1 from `pipeline`."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, previous2[j - 2] + 1)
            current.append(cost)
        previous2, previous = previous, current
    return previous[-1]


def misspelt_category(policy: Policy, category: str) -> str | None:
    """The known category an unknown name is a slip of (case, or one or two keystrokes), else None.

    A slip would otherwise be filed silently at unknown_category_tier and reach the director
    unflagged; a name far from every known one is a genuinely new kind of decision and is not one.
    """
    if category in policy.categories:
        return None
    allowed = 1 if len(category) < 6 else 2
    best: tuple[int, str] | None = None
    for known in policy.categories:
        if category.lower() == known.lower():
            return known
        if abs(len(known) - len(category)) > allowed:
            continue
        distance = _distance(category.lower(), known.lower())
        if distance <= allowed and (best is None or distance < best[0]):
            best = (distance, known)
    return best[1] if best else None


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
