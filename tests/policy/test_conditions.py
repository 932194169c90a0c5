"""Conditions: each operator, absent fields, combinators, parameters, reads and descriptions."""

from __future__ import annotations

from typing import Any

import pytest

from policy.compiled import FieldDef
from policy.conditions import ConditionInvalid, compile_condition

FIELDS = {
    "n": FieldDef("n", "number"),
    "i": FieldDef("i", "integer"),
    "s": FieldDef("s", "string"),
    "e": FieldDef("e", "string", enum=("x", "y", "z")),
    "b": FieldDef("b", "boolean"),
    "tags": FieldDef("tags", "list"),
}
PARAMETERS = {"limit": 2.0, "word": "y"}


def matches(when: dict[str, Any], attributes: dict[str, Any]) -> bool:
    return compile_condition(when, FIELDS, PARAMETERS).matches(attributes)


@pytest.mark.parametrize(
    ("when", "attributes", "expected"),
    [
        ({"s": "a"}, {"s": "a"}, True),
        ({"s": "a"}, {"s": "b"}, False),
        ({"n": {"eq": 2}}, {"n": 2.0}, True),
        ({"n": {"ne": 2}}, {"n": 3}, True),
        ({"n": {"lt": 2}}, {"n": 1.5}, True),
        ({"n": {"lt": 2}}, {"n": 2}, False),
        ({"n": {"lte": 2}}, {"n": 2}, True),
        ({"n": {"gt": 2}}, {"n": 2}, False),
        ({"n": {"gte": 2}}, {"n": 2}, True),
        ({"i": {"gt": 1, "lte": 5}}, {"i": 5}, True),
        ({"i": {"gt": 1, "lte": 5}}, {"i": 6}, False),
        ({"e": {"in": ["x", "y"]}}, {"e": "y"}, True),
        ({"e": {"not_in": ["x", "y"]}}, {"e": "z"}, True),
        ({"tags": {"contains": "urgent"}}, {"tags": ["urgent", "eu"]}, True),
        ({"tags": {"contains": "urgent"}}, {"tags": ["eu"]}, False),
        ({"s": {"contains": "pii"}}, {"s": "has pii data"}, True),
        ({"b": True}, {"b": True}, True),
        ({"b": {"exists": True}}, {"b": False}, True),
        ({"n": {"gt": "$limit"}}, {"n": 2.5}, True),
        ({"e": "$word"}, {"e": "y"}, True),
        ({"e": {"in": ["$word", "z"]}}, {"e": "z"}, True),
    ],
)
def test_operators(when: dict[str, Any], attributes: dict[str, Any], expected: bool) -> None:
    assert matches(when, attributes) is expected


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ({"n": {"eq": 1}}, False),
        ({"n": {"gt": 1}}, False),
        ({"n": {"lt": 1}}, False),
        ({"e": {"in": ["x"]}}, False),
        ({"tags": {"contains": "a"}}, False),
        ({"n": {"exists": True}}, False),
        ({"n": {"exists": False}}, True),
        ({"n": {"ne": 1}}, True),
        ({"e": {"not_in": ["x"]}}, True),
    ],
)
def test_an_absent_field_only_satisfies_negative_tests(when: dict[str, Any], expected: bool) -> None:
    assert matches(when, {}) is expected


def test_combinators() -> None:
    when = {"any": [{"n": {"gt": 5}}, {"all": [{"s": "a"}, {"not": {"b": True}}]}]}
    assert matches(when, {"n": 6})
    assert matches(when, {"n": 1, "s": "a", "b": False})
    assert not matches(when, {"n": 1, "s": "a", "b": True})
    assert not matches(when, {"n": 1, "s": "b"})


def test_several_fields_mean_all_of_them() -> None:
    assert matches({"s": "a", "n": {"gt": 1}}, {"s": "a", "n": 2})
    assert not matches({"s": "a", "n": {"gt": 1}}, {"s": "a", "n": 1})


def test_reads_and_description() -> None:
    condition = compile_condition(
        {"any": [{"n": {"gt": "$limit"}}, {"all": [{"s": "a"}, {"not": {"e": {"in": ["x", "y"]}}}]}]},
        FIELDS,
        PARAMETERS,
    )
    assert condition.reads == frozenset({"n", "s", "e"})
    assert condition.description == "n > 2.0 (limit) or (s = a and not e in [x, y])"


def test_description_of_a_parameter_threshold() -> None:
    fields = {"deviation_pct": FieldDef("deviation_pct", "number")}
    condition = compile_condition({"deviation_pct": {"gt": "$quality_bound_pct"}}, fields, {"quality_bound_pct": 2.0})
    assert condition.description == "deviation_pct > 2.0 (quality_bound_pct)"


@pytest.mark.parametrize(
    ("when", "path", "fragment"),
    [
        ({"n": {"gt": "abc"}}, ("n", "gt"), "'n' is a number field"),
        ({"n": {"gt": True}}, ("n", "gt"), "'n' is a number field"),
        ({"s": {"gt": 2}}, ("s", "gt"), "compares numbers"),
        ({"e": "w"}, ("e",), "not a value of 'e'"),
        ({"tags": {"in": ["a"]}}, ("tags", "in"), "itself a list"),
        ({"n": {"exists": "yes"}}, ("n", "exists"), "true or false"),
        ({"n": {"gt": "$nope"}}, ("n", "gt"), "undefined parameter"),
        ({"zz": 1}, ("zz",), "does not declare"),
        ({"n": {"bigger": 1}}, ("n", "bigger"), "unknown operator"),
        ({"all": []}, ("all",), "non-empty list"),
        ({}, (), "empty condition"),
    ],
)
def test_invalid_conditions_name_the_place(when: dict[str, Any], path: tuple[Any, ...], fragment: str) -> None:
    with pytest.raises(ConditionInvalid) as caught:
        compile_condition(when, FIELDS, PARAMETERS)
    (issue,) = caught.value.issues
    assert issue.path == path
    assert fragment in issue.message


def test_every_problem_in_a_condition_is_reported() -> None:
    with pytest.raises(ConditionInvalid) as caught:
        compile_condition({"all": [{"n": {"gt": "x"}}, {"zz": 1}, {"s": {"lt": 1}}]}, FIELDS, PARAMETERS)
    assert [i.path for i in caught.value.issues] == [("all", 0, "n", "gt"), ("all", 1, "zz"), ("all", 2, "s", "lt")]
