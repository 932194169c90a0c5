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
