"""Quorum arithmetic (pure): who counts, what counts as distinct, and what is still missing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from engine.types import Route


@dataclass(frozen=True, slots=True)
class Vote:
    """One approval as the quorum sees it.

    `principal` is the person whose authority was used (the approver, or the delegator when the
    approver acted on someone's behalf); `actor` is the human who acted. A human counts once in
    any quorum, whatever delegations they hold, so both names are checked for repeats.
    """

    principal: str
    role: str
    squad: str | None
    actor: str | None = None
    #: The content this approval binds to (see engine.lifecycle.content_hash).
    content_hash: str | None = None

    @property
    def human(self) -> str:
        return self.actor or self.principal


def _key(route: Route, vote: Vote) -> str | None:
    if route.distinct == "squad":
        return vote.squad
    if route.distinct == "role":
        return vote.role
    return vote.principal


def route_roles(route: Route) -> list[str]:
    return route.roles or ([route.role] if route.role else [])


def acting_role(route: Route, holder_roles: Iterable[str], votes: Sequence[Vote]) -> str | None:
    """The role a holder signs in: with `distinct: role`, one the quorum still lacks."""
    held = set(holder_roles)
    taken = {v.role for v in votes}
    for role in route_roles(route):
        if role in held and (route.distinct != "role" or role not in taken):
            return role
    return None


def adds_to_quorum(route: Route, votes: Sequence[Vote], vote: Vote) -> bool:
    """Whether `vote` counts: a new distinct key, from a principal and a human not yet counted."""
    key = _key(route, vote)
    if key is None or key in {_key(route, v) for v in votes}:
        return False
    people = {v.principal for v in votes} | {v.human for v in votes}
    return vote.principal not in people and vote.human not in people


def _counted_keys(route: Route, votes: Sequence[Vote]) -> set[str]:
    """The distinct keys of the votes, each human and each principal counted once, in order."""
    keys: set[str] = set()
    people: set[str] = set()
    for vote in votes:
        key = _key(route, vote)
        if key is None or key in keys or vote.principal in people or vote.human in people:
            continue
        keys.add(key)
        people.update((vote.principal, vote.human))
    return keys


def satisfied(route: Route, votes: Sequence[Vote]) -> bool:
    return len(_counted_keys(route, votes)) >= route.count


def missing(route: Route, votes: Sequence[Vote]) -> str | None:
    """In words, what the quorum still needs; None when it is met."""
    if route.role is None or satisfied(route, votes):
        return None
    keys = _counted_keys(route, votes)
    need = route.count - len(keys)
    roles = route_roles(route)
    if route.distinct == "role":
        lacking = [r for r in roles if r not in keys]
        return f"needs {need} more approval(s), from: {', '.join(lacking)}"
    who = " or ".join(roles)
    if route.distinct == "squad":
        have = ", ".join(sorted(k for k in keys if k)) or "none yet"
        return f"needs {need} more approval(s) by a {who} from a squad not yet counted (counted: {have})"
    return f"needs {need} more approval(s) by a {who}"
