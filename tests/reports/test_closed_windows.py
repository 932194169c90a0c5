"""A closed window's digest does not move whatever happens afterwards: every lifecycle change, not only approval."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from engine.review.render import render_digest
from engine.runtime import Runtime
from engine.types import AmendRequest, ProceedRequest, VerdictRequest, WithdrawRequest
from tests.reports.helpers import at_local, file
from tests.support import ManualClock

FORMATS = ("json", "md", "html")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 2, 25, tzinfo=UTC))


def _render(rt: Runtime, day: date) -> dict[str, bytes]:
    return {fmt: render_digest(rt.reviews.digest("weekly", day), fmt) for fmt in FORMATS}


def test_withdraw_amend_ratify_and_new_filings_after_the_end_leave_the_digest_alone(
    runtime: Runtime, clock: ManualClock
) -> None:
    people = runtime.policies.current.people
    at_local(clock, "2026-03-03T10:00")
    to_withdraw = file(runtime, "mei", "pipeline", {"risk_score": 80}, "to be withdrawn")
    to_amend = file(runtime, "jon", "pipeline", {"risk_score": 50}, "to be amended")
    glass = file(runtime, "ravi", "pipeline", {"risk_score": 99}, "break-glass")
    runtime.service.proceed(people["ravi"], glass, ProceedRequest(reason="outage"))
    at_local(clock, "2026-03-10T09:00")  # the week of 2026-03-02 is closed
    first = _render(runtime, date(2026, 3, 2))
    digest = runtime.reviews.digest("weekly", date(2026, 3, 2))
    assert [d.id for d in digest.pending] == [to_withdraw, to_amend, glass]
    assert [d.id for d in digest.break_glass] == [glass]

    runtime.service.withdraw(people["mei"], to_withdraw, WithdrawRequest(reason="not needed"))
    # The amendment lowers the risk below the threshold: the decision drops to tier 1 and resolves.
    runtime.service.amend(people["jon"], to_amend, AmendRequest(attributes={"risk_score": 5}, reason="smaller"))
    runtime.service.decide(people["priya"], glass, VerdictRequest(verdict="approve", reason="ratified"))
    at_local(clock, "2026-03-12T09:00")
    file(runtime, "lena", "contract", {"change": "term"}, "next week's")
    runtime.checkpoints.create()

    assert _render(runtime, date(2026, 3, 8)) == first
    # ...while the next window sees what happened.
    later = runtime.reviews.digest("weekly", date(2026, 3, 10))
    assert later.filed == 1 and [d.id for d in later.pending] == [later.sections[2].decisions[0].id]


def test_a_closed_window_of_an_empty_log_is_stable_too(runtime: Runtime, clock: ManualClock) -> None:
    at_local(clock, "2026-03-10T09:00")
    first = _render(runtime, date(2026, 3, 2))
    digest = runtime.reviews.digest("weekly", date(2026, 3, 2))
    # The log holds only what the runtime logged at start-up (the policy's activation), before the window.
    events = list(runtime.service.iter_event_rows())
    assert (digest.filed, digest.pending) == (0, [])
    assert (digest.log.size, digest.log.head_hash) == (len(events), events[-1]["leaf_hash"])
    file(runtime, "mei", "reporting_format", {}, "after the window")
    assert _render(runtime, date(2026, 3, 2)) == first
