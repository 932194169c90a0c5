"""The policy loader under generated documents: it raises its own PolicyLoadError or returns a policy,
never anything else (no KeyError, no TypeError, no recursion blow-up)."""

from __future__ import annotations

import contextlib
import os

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy import PolicyLoadError, load_policy_text
from tests.support import DEFAULT_POLICY

EXAMPLES = 2000 if os.environ.get("SOAK") else 150
DEFAULT = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.text(max_size=20),
    st.sampled_from(["$quality_bound_pct", "$nope", "1w", "3d", "tech_pm", "director", "gt", "in", "2026-01-05"]),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12) | st.sampled_from(
        ["tiers", "people", "roles", "when", "rules", "fields", "type", "tier", "approvers", "count"]), inner,
        max_size=5),
    max_leaves=30,
)  # fmt: skip


def _load(text: str) -> None:
    with contextlib.suppress(PolicyLoadError):
        load_policy_text(text, "fuzz.yaml")


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(max_size=400))
def test_arbitrary_text(text: str) -> None:
    _load(text)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(values)
def test_arbitrary_yaml_documents(document: object) -> None:
    _load(yaml.safe_dump(document, allow_unicode=True))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_the_default_policy_with_one_part_replaced(data: st.DataObject) -> None:
    """Mutations of a valid policy reach deep into the compiler, where generated noise rarely gets."""
    document = yaml.safe_load(yaml.safe_dump(DEFAULT))
    node = document
    path = []
    for _ in range(data.draw(st.integers(1, 4))):
        if not isinstance(node, dict) or not node:
            break
        key = data.draw(st.sampled_from(sorted(node, key=str)))
        path.append(key)
        if data.draw(st.booleans()) or not isinstance(node[key], dict):
            node[key] = data.draw(values)
            break
        node = node[key]
    _load(yaml.safe_dump(document, allow_unicode=True))
