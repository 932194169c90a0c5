"""Conditions: each operator, absent fields, combinators, parameters, reads and descriptions."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# -- the compiled predicates against the language's definition ------------------------------------------

_ABSENT = object()


def _reference(when: dict[str, Any], a: dict[str, Any]) -> bool:
    """The condition language as its docstring defines it, interpreted directly."""
    results = []
    for key, value in when.items():
        if key == "not":
            results.append(not _reference(value, a))
        elif key == "all":
            results.append(all(_reference(c, a) for c in value))
        elif key == "any":
            results.append(any(_reference(c, a) for c in value))
        else:
            ops = value if isinstance(value, dict) else {"eq": value}
            for op, operand in ops.items():
                if isinstance(operand, str) and operand.startswith("$"):
                    operand = PARAMETERS[operand[1:]]
                x = a.get(key, _ABSENT)
                results.append(_holds(op, x is not _ABSENT, x, operand))
    return all(results)


def _holds(op: str, given: bool, x: Any, operand: Any) -> bool:
    if op == "exists":
        return given == operand
    if op in ("ne", "not_in"):
        return not given or (x != operand if op == "ne" else x not in operand)
    if not given:
        return False
    if op == "eq":
        return bool(x == operand)
    if op == "lt":
        return bool(x < operand)
    if op == "lte":
        return bool(x <= operand)
    if op == "gt":
        return bool(x > operand)
    if op == "gte":
        return bool(x >= operand)
    if op == "in":
        return x in operand
    assert op == "contains"
    return operand in x


_enum_values = st.lists(st.sampled_from("xyz"), min_size=1)
_numbers = st.sampled_from([-1, 0, 1, 2, 2.0, 2.5, 3, "$limit"])
_leaf = st.one_of(
    st.builds(lambda op, v: {"n": {op: v}}, st.sampled_from(["eq", "ne", "lt", "lte", "gt", "gte"]), _numbers),
    st.builds(lambda op, v: {"i": {op: v}}, st.sampled_from(["lt", "gte", "eq"]), st.sampled_from([0, 1, 5])),
    st.builds(lambda v: {"s": v}, st.sampled_from(["a", "b", "$word"])),
    st.builds(lambda op, v: {"e": {op: v}}, st.sampled_from(["in", "not_in"]), _enum_values),
    st.builds(lambda v: {"b": v}, st.booleans()),
    st.builds(lambda v: {"tags": {"contains": v}}, st.sampled_from(["p", "q"])),
    st.builds(lambda f, v: {f: {"exists": v}}, st.sampled_from(list(FIELDS)), st.booleans()),
)
_conditions = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.builds(lambda c: {"not": c}, inner),
        st.builds(lambda cs: {"all": cs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda cs: {"any": cs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda x, y: {**x, **y}, inner, inner),
    ),
    max_leaves=8,
)
_attributes = st.fixed_dictionaries(
    {},
    optional={
        "n": st.sampled_from([-1, 0, 1.5, 2, 2.0, 3]),
        "i": st.integers(-1, 6),
        "s": st.sampled_from(["a", "b", "y"]),
        "e": st.sampled_from("xyz"),
        "b": st.booleans(),
        "tags": st.lists(st.sampled_from("pqr"), max_size=3),
    },
)


@settings(max_examples=1000, deadline=None)
@given(when=_conditions, attributes=_attributes)
def test_compiled_conditions_agree_with_the_definition(when: dict[str, Any], attributes: dict[str, Any]) -> None:
    assert matches(when, attributes) == _reference(when, attributes)


#: The same fields, some with defaults: their locals are never absent, and the inlined conditions
#: skip the absence test for them.
DEFAULTED = {
    **FIELDS,
    "n": FieldDef("n", "number", default=1.5),
    "i": FieldDef("i", "integer", default=0),
    "s": FieldDef("s", "string", default="y"),
    "tags": FieldDef("tags", "list", default=["q"]),
}


@settings(max_examples=400, deadline=None)
@given(
    rules=st.lists(st.tuples(_conditions, st.integers(1, 3)), min_size=1, max_size=10),
    attributes=_attributes,
    defaulted=st.booleans(),
)
def test_generated_classifiers_read_fields_as_the_definition_does(
    rules: list[tuple[dict[str, Any], int]], attributes: dict[str, Any], defaulted: bool
) -> None:
    """A classifier inlines each condition over the validated fields held in locals: tabulated
    (up to 8 rules) or collected as it goes (more), with fields that may be absent or always
    given, it matches what the definition says of the attributes with defaults filled in."""
    from policy.attributes import make_classifier
    from policy.compiled import Rule

    fields = DEFAULTED if defaulted else FIELDS
    seen = {name: f.default for name, f in fields.items() if f.default is not None}
    seen.update(attributes)
    compiled = []
    for i, (when, tier) in enumerate(rules):
        c = compile_condition(when, fields, PARAMETERS, prefix=f"_r{i}_")
        rule = Rule(f"r{i}", tier, c.description, c.reads, c.matches, None, c.source, c.constants, c.local_source)
        compiled.append(rule)
    classifier = make_classifier("c", fields, 1, compiled, "v")
    got = classifier(attributes)
    expected = [(f"r{i}", tier) for i, (when, tier) in enumerate(rules) if _reference(when, seen)]
    assert [(m.id, m.tier) for m in got.matched_rules] == expected
    assert got.tier == max([1, *(tier for _, tier in expected)])


def test_nesting_deeper_than_the_limit_is_a_load_error_not_a_crash() -> None:
    from policy.conditions import MAX_DEPTH

    when: dict[str, Any] = {"n": {"gt": 1}}
    for _ in range(MAX_DEPTH - 1):
        when = {"not": when}
    assert matches(when, {"n": 2}) is (MAX_DEPTH % 2 == 1)
    with pytest.raises(ConditionInvalid, match="nest at most"):
        compile_condition({"not": when}, FIELDS, PARAMETERS)
