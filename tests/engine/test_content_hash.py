"""content_hash takes a fast path (msgspec, floats spelt by float.__repr__); it must give exactly the
hash of the specification's bytes (engine.log.canonical: the standard library's json.dumps)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.content import CONTENT_KEYS, content_hash


def _specified(content: dict[str, Any]) -> str:
    picked = {k: content.get(k) for k in CONTENT_KEYS}
    raw = json.dumps(picked, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1e16, 1e-5, 1e22, 123456789012345678.0, -0.0, 5e-324, 1.7976931348623157e308, 0.1])
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=24,
)
_content = st.fixed_dictionaries(
    {},
    optional={
        "title": st.text(),
        "category": st.text(max_size=12),
        "attributes": st.dictionaries(st.text(max_size=8), _json, max_size=6),
        "rationale": st.none() | st.text(),
        "client": st.none() | st.text(max_size=8),
        "links": st.lists(st.text(max_size=10), max_size=3),
        "supersedes": st.none() | st.text(max_size=8),
        "tier": st.integers(1, 3),
        "not_content": _json,
    },
)


@settings(max_examples=600, deadline=None)
@given(content=_content)
def test_the_hash_is_the_specifications(content: dict[str, Any]) -> None:
    assert content_hash(content) == _specified(content)


def _nested(depth: int, leaf: Any) -> Any:
    return leaf if depth == 0 else [_nested(depth - 1, leaf)]


@pytest.mark.parametrize(
    "attributes",
    [
        {"deviation_pct": 1e16},
        {"x": [0.5, {"y": 1e-7}], "n": 2**70},
        {1: "an int key"},  # the standard library writes "1"; the fast path steps aside
        {"deep": _nested(40, 1.5)},
        {"subclass": True, "int_enum_like": type("N", (int,), {})(3)},
    ],
)
def test_edge_values_hash_as_specified(attributes: dict[Any, Any]) -> None:
    content = {"title": "t", "category": "c", "attributes": attributes, "tier": 2}
    assert content_hash(content) == _specified(content)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "\ud800"])
def test_what_the_specification_refuses_is_refused(bad: Any) -> None:
    content = {"title": "t", "attributes": {"x": bad}}
    with pytest.raises((ValueError, UnicodeEncodeError)):
        _specified(content)
    with pytest.raises((ValueError, UnicodeEncodeError)):
        content_hash(content)
