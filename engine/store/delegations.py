"""Delegations in force, read inside a transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from engine.store.tables import Delegation
from policy.compiled import Person, Policy

_delegations = Delegation.__table__  # type: ignore[attr-defined]


def delegators_in_force(conn: Connection, policy: Policy, actor: Person, now: datetime) -> list[tuple[Person, str]]:
    """(delegator, role) pairs whose sign-off `actor` holds by delegation at `now`."""
    rows = conn.execute(
        select(_delegations.c.delegator, _delegations.c.role).where(
            _delegations.c.delegate == actor.name,
            _delegations.c.revoked_seq.is_(None),
            _delegations.c.starts_at <= now,
            _delegations.c.ends_at > now,
        )
    ).all()
    out = []
    for delegator, role in rows:
        person = policy.people.get(delegator)
        # The delegator must still hold the role: a delegation never outlives its source.
        if person is not None and role in person.roles:
            out.append((person, role))
    return out
