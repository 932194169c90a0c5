"""What an approval binds to: a hash of the decision's content and tier (pure)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

import msgspec

from engine.log.canonical import canonical_bytes

#: A change to any of these makes earlier approvals stop counting (unless the policy declares an
#: attribute immaterial). For `policy` decisions the candidate version is among the attributes.
CONTENT_KEYS = ("title", "category", "attributes", "rationale", "client", "links", "supersedes", "tier")

_sorted = msgspec.json.Encoder(order="sorted")
_SCALARS = frozenset({str, int, bool, type(None)})
#: Deeper than this the standard library decides (filings are refused past 8 levels anyway).
_FAST_DEPTH = 32
_SPEC = object()  # "the standard library must encode this"


def content_hash(content: Mapping[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON of the content keys, as logged in approval events.

    The canonical JSON is the standard library's (engine.log.canonical). msgspec's sorted encoder
    writes the very same bytes for strings, integers, booleans, null, lists and str-keyed objects
    (tests/log/test_canonical_fast_path.py checks every code point), but spells some floats
    differently (1e16 for 1e+16); so each float is handed to it already spelt as the standard
    library spells it, `float.__repr__`, and anything else (another type, a non-str key, NaN)
    goes to the standard library. tests/engine/test_content_hash.py holds this to the
    specification. The replay audit hashes every approved decision's content; this halves it.
    """
    picked = {k: content.get(k) for k in CONTENT_KEYS}
    fast = _fast(picked, 0)
    if fast is not _SPEC:
        try:
            return hashlib.sha256(_sorted.encode(fast)).hexdigest()
        except (TypeError, ValueError, OverflowError):  # e.g. a lone surrogate: the specification decides
            pass
    return hashlib.sha256(canonical_bytes(picked)).hexdigest()


def _fast(value: Any, depth: int) -> Any:
    """`value` with every float replaced by its standard-library spelling (msgspec.Raw), copying
    only what holds one; `_SPEC` when something in it is not plain JSON data."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is float:
        return msgspec.Raw(float.__repr__(value).encode()) if math.isfinite(value) else _SPEC
    if depth >= _FAST_DEPTH:
        return _SPEC
    if kind is dict:
        copy: Any = None
        for key, item in value.items():
            if type(key) is not str:
                return _SPEC
            if type(item) in _SCALARS:
                continue
            done = _fast(item, depth + 1)
            if done is _SPEC:
                return _SPEC
            if done is not item:
                if copy is None:
                    copy = dict(value)
                copy[key] = done
        return value if copy is None else copy
    if kind is list or kind is tuple:
        items: Any = None
        for index, item in enumerate(value):
            if type(item) in _SCALARS:
                continue
            done = _fast(item, depth + 1)
            if done is _SPEC:
                return _SPEC
            if done is not item:
                if items is None:
                    items = list(value)
                items[index] = done
        return value if items is None else items
    return _SPEC
