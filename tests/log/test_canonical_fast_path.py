"""The verifier's fast canonical check (msgspec's sorted encoder) may accept only what the specification
(stdlib json.dumps, sorted keys, compact, ensure_ascii=False) writes, byte for byte.

The verifier falls back to the stdlib whenever a body holds a float or the fast bytes differ, so
the property that matters is: for float-free values, msgspec writes exactly the stdlib's bytes.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.log.canonical import canonical_bytes, leaf_hash
from engine.log.chain import ChainVerifier, Record, verify_export

_sorted = msgspec.json.Encoder(order="sorted")


def _spec(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def test_every_code_point_is_written_alike_in_keys_and_strings() -> None:
    code_points = [cp for cp in range(sys.maxunicode + 1) if not 0xD800 <= cp <= 0xDFFF]
    for start in range(0, len(code_points), 4096):
        chunk = [chr(cp) for cp in code_points[start : start + 4096]]
        value = {f"k{c}": f'v{c}\\{c}"' for c in chunk}
        assert _sorted.encode(value) == _spec(value), f"code points from {hex(ord(chunk[0]))}"


def test_integers_of_any_size_and_the_constants_are_written_alike() -> None:
    for n in (0, -1, 2**31, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**40, -(10**40)):
        assert _sorted.encode({"n": n}) == _spec({"n": n})
    value = {"t": True, "f": False, "z": None, "e": [], "o": {}, "nested": [{"b": 1, "a": [None]}]}
    assert _sorted.encode(value) == _spec(value)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=500, deadline=None)
@given(value=st.dictionaries(st.text(max_size=8), _json, max_size=6))
def test_float_free_documents_are_written_alike(value: dict[str, Any]) -> None:
    assert _sorted.encode(value) == _spec(value)


def _body(seq: int, prev: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "v": 1,
        "log": "test/log",
        "seq": seq,
        "prev": prev,
        "type": "comment_added",
        "actor": "mei",
        "at": "2026-03-02T09:00:00.000000Z",
        "decision_id": "dec_1",
        "data": data,
    }


def test_a_float_written_in_msgspec_form_is_refused_by_the_specification() -> None:
    """msgspec writes 1e16 where json.dumps writes 1e+16: the stdlib decides for every float."""
    from engine.log.canonical import GENESIS_PREV

    body = _body(0, GENESIS_PREV, {"big": 1e16, "small": 0.5})
    assert b"1e+16" in canonical_bytes(body)
    verifier = ChainVerifier()
    assert verifier.feed(Record(seq=0, body=canonical_bytes(body)))
    # The same event as msgspec would have written it: valid JSON, same values, not the canonical bytes.
    other = ChainVerifier()
    assert not other.feed(Record(seq=0, body=_sorted.encode(body)))
    assert other.failure is not None and "non-canonical" in other.failure[1]


def test_an_export_of_mixed_events_verifies_and_one_escaped_character_breaks_it() -> None:
    from engine.log.canonical import GENESIS_PREV

    lines, prev = [], GENESIS_PREV
    for seq, data in enumerate([{"text": "é ünïcode ✓ 😀"}, {"score": 2.5}, {"n": 2**70}, {"quote": '"\\\n\x1f'}]):
        line = canonical_bytes(_body(seq, prev, data))
        lines.append(line)
        prev = leaf_hash(line).hex()
    assert verify_export(iter(lines)).ok
    escaped = lines[0].replace("é".encode(), b"\\u00e9")  # same JSON value, not the canonical bytes
    result = verify_export(iter([escaped, *lines[1:]]))
    assert not result.ok and result.first_bad_seq == 0 and "non-canonical" in (result.reason or "")
