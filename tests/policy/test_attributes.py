"""Filed attributes are validated against the category's declared fields."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy import load_policy
from policy.compiled import AttributesInvalid, FieldDef, Policy
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


# -- the fast path agrees with the messages ------------------------------------------------------------

_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=True, allow_infinity=True, min_value=None, max_value=None)
    | st.sampled_from(["a", "b", "c", "", "A"]),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=4,
)


@st.composite
def _fields(draw: st.DrawFn) -> FieldDef:
    kind = draw(st.sampled_from(["number", "integer", "string", "boolean", "list"]))
    scalars = {
        "number": st.integers(-3, 3) | st.floats(-3, 3),
        "integer": st.integers(-3, 3),
        "string": st.sampled_from(["a", "b", "c"]),
        "boolean": st.booleans(),
        "list": st.booleans() | st.integers(0, 2) | st.sampled_from(["a", "b"]),
    }[kind]
    enum = draw(st.none() | st.lists(scalars, min_size=1, max_size=3).map(tuple))
    low = high = None
    if kind in ("number", "integer"):
        low = draw(st.none() | st.integers(-3, 0))
        high = draw(st.none() | st.integers(0, 3))
    return FieldDef(name="f", type=kind, enum=enum, min=low, max=high)


@settings(max_examples=1000, deadline=None)
@given(field=_fields(), value=_values)
def test_the_generated_check_accepts_exactly_what_the_worded_check_accepts(field: FieldDef, value: object) -> None:
    from policy.attributes import make_validator, value_problem

    validate = make_validator("c", {"f": field, "other": FieldDef(name="other", type="string", default="d")})
    if value is None:
        assert validate({"f": value}) == {"other": "d"}  # null means "not given": never checked
        return
    worded = value_problem(field, value)
    try:
        out = validate({"f": value})
    except AttributesInvalid as exc:
        assert worded is not None, (field, value)
        assert exc.errors[0].path == "$.attributes.f" and exc.errors[0].message == worded
    else:
        assert worded is None, (field, value, worded)
        assert out == {"f": list(value) if field.type == "list" else value, "other": "d"}  # type: ignore[call-overload]


_SHAPE = {
    "req": FieldDef(name="req", type="integer", required=True, min=0),
    "opt": FieldDef(name="opt", type="number", default=1.5, max=10),
    "kind": FieldDef(name="kind", type="string", enum=("a", "b")),
    "tags": FieldDef(name="tags", type="list", default=["x"]),
    "flag": FieldDef(name="flag", type="boolean"),
}


def _validated_by_definition(attributes: dict[str, Any]) -> dict[str, Any] | None:
    """What validation means, written plainly: None when the attributes are invalid."""
    from policy.attributes import value_problem

    for name, value in attributes.items():
        if name not in _SHAPE or (value is not None and value_problem(_SHAPE[name], value) is not None):
            return None
    given = {name: value for name, value in attributes.items() if value is not None}
    if any(f.required and name not in given for name, f in _SHAPE.items()):
        return None
    out = {name: list(v) if _SHAPE[name].type == "list" else v for name, v in given.items()}
    for name, f in _SHAPE.items():
        if name not in out and f.default is not None:
            out[name] = list(f.default) if type(f.default) is list else f.default
    return out


@settings(max_examples=1000, deadline=None)
@given(attributes=st.dictionaries(st.sampled_from([*_SHAPE, "unknown", "Req"]), _values, max_size=6))
def test_whole_attribute_sets_validate_as_the_definition_says(attributes: dict[str, Any]) -> None:
    """Unknown names, nulls, required and defaulted fields together, not one field at a time."""
    from policy.attributes import make_validator

    expected = _validated_by_definition(attributes)
    validate = make_validator("c", _SHAPE)
    if expected is None:
        with pytest.raises(AttributesInvalid):
            validate(attributes)
        return
    got = validate(attributes)
    assert got == expected
    if "tags" in got:
        assert got["tags"] is not attributes.get("tags")  # a copy: the filer's list is never shared
