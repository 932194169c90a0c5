"""The service's canonical bytes equal what the auditor's stdlib encoder produces."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest
from freezegun import freeze_time
from hypothesis import given
from hypothesis import strategies as st

from engine.log.canonical import canonical_bytes, format_at, make_body, parse_at

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(exclude_categories=("Cs",))),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def stdlib_bytes(body: dict) -> bytes:  # type: ignore[type-arg]
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@given(data=st.dictionaries(st.text(max_size=10), json_values, max_size=6), actor=st.text(max_size=20))
def test_canonical_bytes_are_what_a_verifier_recomputes(data: dict, actor: str) -> None:  # type: ignore[type-arg]
    body = make_body(
        origin="decision-rights/log",
        seq=7,
        prev="ab" * 32,
        type="decision_filed",
        actor=actor,
        at=datetime(2026, 3, 2, 17, 0, tzinfo=UTC),
        decision_id="D01",
        data=data,
    )
    stored = canonical_bytes(body)
    # A verifier parses the stored line and re-encodes it: the bytes must come back unchanged,
    # whether it parses with the stdlib or with msgspec.
    assert stdlib_bytes(json.loads(stored)) == stored
    assert stdlib_bytes(msgspec.json.decode(stored)) == stored


def test_non_finite_numbers_never_reach_the_log() -> None:
    body = make_body(
        origin="o",
        seq=0,
        prev="0" * 64,
        type="t",
        actor="a",
        at=datetime(2026, 1, 1, tzinfo=UTC),
        decision_id=None,
        data={"x": float("nan")},
    )
    with pytest.raises(ValueError):
        canonical_bytes(body)


def test_times_are_utc_with_six_fraction_digits_even_under_freezegun() -> None:
    with freeze_time("2026-11-01 09:30:00"):
        now = datetime.now(UTC)
        text = format_at(now)
    assert text == "2026-11-01T09:30:00.000000Z"
    assert parse_at(text) == datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    pacific = timezone(timedelta(hours=-8))
    assert format_at(datetime(2026, 11, 1, 1, 30, 0, 5, tzinfo=pacific)) == "2026-11-01T09:30:00.000005Z"


# Fixed event -> bytes -> leaf hash vectors. If one changes, every existing log stops verifying:
# a change here is a new format version, never an edit.
GOLDEN_EVENTS = [
    (
        {
            "v": 1, "log": "decision-rights/log", "seq": 0, "prev": "0" * 64, "type": "policy_activated",
            "actor": "system", "at": "2026-01-05T09:00:00.000000Z", "decision_id": None,
            "data": {"version": "ab", "previous": None, "source": "policies.yaml"},
        },
        '{"actor":"system","at":"2026-01-05T09:00:00.000000Z","data":{"previous":null,"source":"policies.yaml",'
        '"version":"ab"},"decision_id":null,"log":"decision-rights/log","prev":"'
        + "0" * 64
        + '","seq":0,"type":"policy_activated","v":1}',
    ),
    (
        {
            "v": 1, "log": "l", "seq": 1, "prev": "f" * 64, "type": "decision_filed", "actor": "mei",
            "at": "2026-01-05T09:00:00.123456Z", "decision_id": "D1",
            "data": {"title": "Qualit\u00e9 \U0001f600", "attributes": {"pct": 1e16, "small": 1e-05, "n": 3,
                     "ok": True, "z": -0.0}, "tier": 2},
        },
        '{"actor":"mei","at":"2026-01-05T09:00:00.123456Z","data":{"attributes":{"n":3,"ok":true,"pct":1e+16,'
        '"small":1e-05,"z":-0.0},"tier":2,"title":"Qualit\u00e9 \U0001f600"},"decision_id":"D1","log":"l","prev":"'
        + "f" * 64
        + '","seq":1,"type":"decision_filed","v":1}',
    ),
]  # fmt: skip


GOLDEN_LEAVES = [
    "8bda952f4a9d96d505d0a675b0c7cff2cdf50e9db9379ebb9ea4006debda8265",
    "c980a6e5e9d2f9f93696eaf8bffc41c73886ba08de99960cbbf5de32fd814cfb",
]


@pytest.mark.parametrize("index", range(len(GOLDEN_EVENTS)))
def test_golden_event_vectors_hold_for_the_service_and_the_script(index: int) -> None:
    import hashlib
    import importlib.util

    from engine.log.canonical import leaf_hash
    from tests.support import REPO

    body, expected = GOLDEN_EVENTS[index]
    raw = canonical_bytes(body)
    assert raw == expected.encode("utf-8")
    assert leaf_hash(raw).hex() == GOLDEN_LEAVES[index]
    assert hashlib.sha256(b"\x00" + raw).hexdigest() == GOLDEN_LEAVES[index]  # what the script computes
    spec = importlib.util.spec_from_file_location("verify_export", REPO / "tools" / "verify_export.py")
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.check_line(raw, body["seq"], body["prev"], "", None) == body
