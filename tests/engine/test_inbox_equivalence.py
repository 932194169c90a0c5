"""The inbox filtered in SQL equals the rules applied to every open decision, on random histories,
in each of its orders (oldest first, newest first, highest tier first).

The store narrows the open decisions to the tiers and filers `inbox_scope` names; the reference
here reads every open decision and asks `decide` (approve, with the delegations in force) and the
escalation rule about each one. Both backends, several random histories each, for every person
of the directory and for people whose roles come from identity-provider claims.
"""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.commands import grants_held
from engine.errors import DomainError
from engine.lifecycle import Authority, GiveVerdict, decide, state_of
from engine.reminders import escalation_for
from engine.runtime import Runtime, open_runtime
from engine.store.db import read_transaction
from engine.store.tables import Decision
from engine.types import (
    OPEN_STATUSES,
    DelegationRequest,
    FilingRequest,
    InboxSort,
    ProceedRequest,
    VerdictRequest,
    WithdrawRequest,
)
from policy.compiled import Person
from tests.support import DEFAULT_POLICY, ManualClock

_decisions = Decision.__table__  # type: ignore[attr-defined]

FILINGS = [
    ("quality_threshold", {"deviation_pct": 1.0}),  # tier 1
    ("quality_threshold", {"deviation_pct": 3.0}),  # tier 2
    ("pipeline", {"risk_score": 80}),  # tier 2
    ("contract", {"change": "scope"}),  # tier 3
    ("benchmark", {"benchmark": "reasoning-suite"}),  # tier 3
]
FILERS = ["mei", "jon", "ravi", "lena", "tomas", "priya", "dana"]
# Tier 3 needs a director and a tech PM (two distinct roles): an approval can leave a decision open.
QUORUM = ("approvers: {role: director, count: 1, exclude_filer: true}",
          "approvers: {roles: [director, tech_pm], count: 2, distinct: role, exclude_filer: true}")  # fmt: skip


def _claimed(policy: Any) -> list[Person]:
    """People as the OIDC layer builds them: roles from claims, beside or instead of the directory's."""
    mei = policy.people["mei"]
    return [
        Person(name=mei.name, roles=mei.roles | {"tech_pm"}, squad=mei.squad, authority=(("tech_pm", "groups=pms"),)),
        Person(name="oidc-kim", roles=frozenset({"director"}), authority=(("director", "groups=directors"),)),
        Person(name="oidc-sam", roles=frozenset({"squad_member"}), squad="atlas"),
    ]


def _reference(rt: Runtime, actor: Person) -> list[tuple[str, int, Any]]:
    """Every open decision, in filing order, that the rules put in `actor`'s inbox, with its tier and due time."""
    policy = rt.policies.current
    now = rt.service.clock()
    with read_transaction(rt.service.engine) as conn:
        rows = conn.execute(select(_decisions).order_by(_decisions.c.filed_seq)).mappings().all()
        authority = Authority(policy=policy, now=now, grants=grants_held(conn, actor.name))
    out = []
    for raw in rows:
        row = dict(raw)
        if row["status"] not in OPEN_STATUSES:
            continue
        tier = policy.tiers[row["tier"]]
        try:
            decide(GiveVerdict(verdict="approve"), actor, authority, state_of(row))
            signs = True
        except DomainError:
            signs = False
        if signs or escalation_for(tier, row, actor, now) is not None:
            due = row["created_at"] + tier.sla if tier.sla is not None else None
            out.append((row["id"], row["tier"], due))
    return out


def _paged(rt: Runtime, actor: Person, limit: int, sort: InboxSort = "oldest") -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        page = rt.service.inbox(actor, cursor, limit, sort)
        assert len(page.items) <= limit
        ids += [i.decision.id for i in page.items]
        if page.next_cursor is None:
            return ids
        assert page.items, "a page that names a next one is never empty"
        cursor = page.next_cursor


def _step(rt: Runtime, rng: random.Random, clock: ManualClock, ids: list[str]) -> None:
    service = rt.service
    people = rt.policies.current.people
    move = rng.random()
    try:
        if move < 0.45 or not ids:
            category, attributes = rng.choice(FILINGS)
            request = FilingRequest(title=f"d{len(ids)}", category=category, attributes=attributes)
            ids.append(service.file(people[rng.choice(FILERS)], request).decision.id)
        elif move < 0.7:
            who = people[rng.choice(["tomas", "priya", "dana", "ravi", "mei"])]
            service.decide(who, rng.choice(ids), VerdictRequest(verdict="approve"))
        elif move < 0.75:
            service.decide(people["dana"], rng.choice(ids), VerdictRequest(verdict="reject", reason="no"))
        elif move < 0.8:
            d = service.get(rng.choice(ids))
            service.withdraw(people[d.filed_by], d.id, WithdrawRequest())
        elif move < 0.85:
            d = service.get(rng.choice(ids))
            service.proceed(people[d.filed_by], d.id, ProceedRequest(reason="urgent"))
        elif move < 0.92:
            delegator, role, delegate = rng.choice(
                [("tomas", "tech_pm", "ravi"), ("dana", "director", "priya"), ("priya", "tech_pm", "mei")]
            )
            now = clock()
            start = now + timedelta(hours=rng.choice([-1, 2]))
            end = start + timedelta(days=2)
            request = DelegationRequest(delegate=delegate, role=role, starts_at=start, ends_at=end)
            service.delegate(people[delegator], request)
        else:
            clock.advance(hours=rng.choice([3, 30, 80]))
    except DomainError:
        pass  # the rules refused this random move: the history goes on without it


@pytest.mark.parametrize("quorum", [False, True], ids=["default", "two-role-quorum"])
def test_sql_inbox_equals_the_rules_on_every_open_decision(database_url: str, tmp_path: Path, quorum: bool) -> None:
    policy_path = DEFAULT_POLICY
    if quorum:
        text = DEFAULT_POLICY.read_text()
        assert QUORUM[0] in text
        policy_path = tmp_path / "quorum.yaml"
        policy_path.write_text(text.replace(*QUORUM))
    clock = ManualClock()
    rt = open_runtime(database_url, str(policy_path), clock=clock)
    try:
        rng = random.Random(17 + quorum)
        ids: list[str] = []
        actors = [*rt.policies.current.people.values(), *_claimed(rt.policies.current)]
        checked = 0
        for round_ in range(6):
            for _ in range(25):
                _step(rt, rng, clock, ids)
            for actor in actors:
                reference = _reference(rt, actor)
                expected = [i for i, _, _ in reference]
                limit = 3 + round_ % 3
                assert _paged(rt, actor, limit) == expected, actor.name
                # The other orders page the same decisions: newest first, and highest tier first
                # (filing order within a tier; sorted() is stable).
                assert _paged(rt, actor, limit, "newest") == expected[::-1], actor.name
                by_tier = [i for i, _, _ in sorted(reference, key=lambda r: -r[1])]
                assert _paged(rt, actor, limit, "tier") == by_tier, actor.name
                # Due soonest first, those without a due time last (filing order breaks ties).
                by_due = [i for i, _, d in sorted(reference, key=lambda r: (r[2] is None, r[2] or 0))]
                assert _paged(rt, actor, limit, "due") == by_due, actor.name
                checked += len(expected)
                # The decision page asks the rules about one decision: the same answer as the inbox,
                # escalation aside (being told is not being allowed to sign).
                for decision_id in expected[:3]:
                    item = next(i for i in rt.service.inbox(actor, None, 200).items if i.decision.id == decision_id)
                    signs = rt.service.may_approve(actor, decision_id)
                    assert signs or item.escalated, (actor.name, decision_id)
        assert checked > 50, "the random histories left almost nothing open: the comparison proved little"
    finally:
        rt.close()
