"""The log carries what a replay needs: every policy version's full text, and every delegation."""

from __future__ import annotations

import hashlib
import shutil
from datetime import timedelta
from pathlib import Path

import msgspec
import sqlalchemy as sa

from engine.runtime import open_runtime
from engine.types import DelegationRequest, FilingRequest, VerdictRequest
from tests.support import DEFAULT_POLICY, ManualClock


def _bodies(rt, kind: str) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    with rt.service.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT body FROM events WHERE type = :t ORDER BY seq"), {"t": kind}).scalars()
        return [msgspec.json.decode(r) for r in rows]


def test_every_activation_carries_the_policy_text_it_activates(database_url: str, tmp_path: Path) -> None:
    policy_file = tmp_path / "policies.yaml"
    shutil.copy(DEFAULT_POLICY, policy_file)
    rt = open_runtime(database_url, str(policy_file), clock=ManualClock())
    try:
        people = rt.policies.current.people
        text = policy_file.read_text().replace("quality_bound_pct: 2.0", "quality_bound_pct: 1.0")
        candidate = rt.governance.propose(text, "candidate.yaml")
        filed = rt.service.file(
            people["adm"],
            FilingRequest(title="t", category="policy", attributes={"candidate_version": candidate.version}),
        )
        rt.service.decide(people["dana"], filed.decision.id, VerdictRequest(verdict="approve", reason="ok"))
        activations = _bodies(rt, "policy_activated")
    finally:
        rt.close()
    assert [a["data"]["version"] for a in activations] == [
        hashlib.sha256(DEFAULT_POLICY.read_bytes()).hexdigest(),
        candidate.version,
    ]
    for activation in activations:
        data = activation["data"]
        # The version is the text's hash: the text in the event is exactly the activated policy.
        assert hashlib.sha256(data["text"].encode()).hexdigest() == data["version"]
    assert activations[0]["data"]["previous"] is None and activations[0]["data"].get("bootstrap") is True
    assert activations[1]["data"]["previous"] == activations[0]["data"]["version"]
    assert activations[1]["data"]["decision_id"] == filed.decision.id


def test_a_delegation_event_carries_delegator_delegate_role_and_window(runtime) -> None:  # type: ignore[no-untyped-def]
    people = runtime.policies.current.people
    start = runtime.service.clock()
    view = runtime.service.delegate(
        people["priya"],
        DelegationRequest(delegate="tomas", role="tech_pm", starts_at=start, ends_at=start + timedelta(days=3)),
    )
    runtime.service.revoke_delegation(people["priya"], view.id)
    [granted] = _bodies(runtime, "delegation_granted")
    [revoked] = _bodies(runtime, "delegation_revoked")
    assert granted["actor"] == "priya"
    assert granted["data"] == {
        "delegation_id": view.id,
        "delegate": "tomas",
        "role": "tech_pm",
        "starts_at": "2026-03-02T17:00:00.000000Z",
        "ends_at": "2026-03-05T17:00:00.000000Z",
    }
    assert revoked["actor"] == "priya" and revoked["data"] == {"delegation_id": view.id}
