"""A closed window's digest after a policy activation: the log says which policy was in force at the window's end."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from engine.review.render import render_digest
from engine.runtime import Runtime
from engine.types import FilingRequest, VerdictRequest
from tests.reports.helpers import at_local, file
from tests.support import DEFAULT_POLICY, ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 2, 25, tzinfo=UTC))


def _activate(rt: Runtime, text: str) -> str:
    people = rt.policies.current.people
    candidate = rt.governance.propose(text, "candidate.yaml")
    filed = rt.service.file(
        people["adm"],
        FilingRequest(title="Shorter SLA", category="policy", attributes={"candidate_version": candidate.version}),
    )
    rt.service.decide(people["dana"], filed.decision.id, VerdictRequest(verdict="approve", reason="agreed"))
    assert rt.policies.current.version == candidate.version
    return candidate.version


def test_a_later_policy_activation_does_not_rewrite_a_closed_window(runtime: Runtime, clock: ManualClock) -> None:
    at_local(clock, "2026-03-05T10:00")
    waiting = file(runtime, "mei", "pipeline", {"risk_score": 80}, "waits")
    at_local(clock, "2026-03-10T09:00")
    digest = runtime.reviews.digest("weekly", date(2026, 3, 2))
    # Filed Thursday 10:00, still waiting when the window ends (85 h, DST ate one): past the 3-day SLA.
    assert [(d.id, d.overdue) for d in digest.pending] == [(waiting, True)]
    first = {fmt: render_digest(digest, fmt, runtime.reviews.policy_of(digest)) for fmt in ("json", "md", "html")}
    assert "Mei (ML engineer)" in first["html"].decode()
    text = DEFAULT_POLICY.read_text().replace("{name: Tech PM sign-off,", "{name: Tech PM,")
    text = text.replace("display_name: Mei (ML engineer),", "display_name: Mei Chen,")
    _activate(runtime, text.replace("sla: 3d}", "sla: 5d}"))
    again = runtime.reviews.digest("weekly", date(2026, 3, 2))
    # Named as the policy in force at the window's end named her, byte for byte.
    assert {fmt: render_digest(again, fmt, runtime.reviews.policy_of(again)) for fmt in first} == first
    # The open window reads under the new policy, names included.
    file(runtime, "mei", "pipeline", {"risk_score": 10}, "after the change")
    now = runtime.reviews.digest("weekly")
    html = render_digest(now, "html", runtime.reviews.policy_of(now)).decode()
    assert '<span title="mei">Mei Chen</span>' in html and "Mei (ML engineer)" not in html
