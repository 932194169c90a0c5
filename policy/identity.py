"""Who a set of verified identity-provider claims is, under a policy (pure: no I/O, no clock).

A person is always a person of the policy's directory, found by the claim the policy names
(`identity.match`: `email` or `sub`). Groups the provider lists may add roles and a squad as
`identity.groups` says; a role that comes from a group is recorded with the claim that gave it
(`Person.authority`), so every event the person causes can say on what authority it was taken.
A machine client is a service account only if the policy lists its client id.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from policy.compiled import Person, Policy

#: The role of machine clients: classify, read, and the decision gate. Never a directory role.
SERVICE_ROLE = "service"


class UnknownIdentity(Exception):
    """The claims are genuine but name nobody this policy lets in; the message says why, in words."""


def person_from_claims(policy: Policy, claims: Mapping[str, Any]) -> Person:
    """The directory person the claims name, with any roles and squad their groups give."""
    identity = policy.identity
    value = claims.get(identity.match)
    if not isinstance(value, str) or not value:
        raise UnknownIdentity(
            f"the identity provider sent no `{identity.match}` claim, which this service matches people on"
        )
    if identity.match == "email":
        if claims.get("email_verified") is False:
            raise UnknownIdentity(f"the identity provider says the address {value} is not verified")
        wanted = value.casefold()
        person = next((p for p in policy.people.values() if p.email and p.email.casefold() == wanted), None)
    else:
        person = next((p for p in policy.people.values() if p.subject == value), None)
    if person is None:
        raise UnknownIdentity(
            f"you signed in as {value}, but the policy's directory has no person with that {identity.match}"
        )
    return _with_groups(policy, person, claims)


def _with_groups(policy: Policy, person: Person, claims: Mapping[str, Any]) -> Person:
    identity = policy.identity
    listed = claims.get(identity.groups_claim)
    member_of = {listed} if isinstance(listed, str) else {g for g in listed or () if isinstance(g, str)}
    if not member_of or not identity.groups:
        return person
    # The compiler refuses such mappings already; this keeps a hand-built Policy from granting them.
    barred = frozenset() if identity.approver_roles_from_idp else policy.approver_roles
    roles = set(person.roles)
    authority: list[tuple[str, str]] = list(person.authority)
    squad = person.squad
    for group, grant in identity.groups.items():  # the policy's order: the first squad given wins
        if group not in member_of:
            continue
        for role in sorted(grant.roles - roles - barred):
            roles.add(role)
            authority.append((role, f"{identity.groups_claim}={group}"))
        if squad is None and grant.squad is not None:
            squad = grant.squad
            authority.append(("squad", f"{identity.groups_claim}={group}"))
    return dataclasses.replace(person, roles=frozenset(roles), squad=squad, authority=tuple(authority))


def with_authority(actor: Person, data: dict[str, Any]) -> dict[str, Any]:
    """The event's data, naming the claims behind any role or squad the actor holds from the identity
    provider rather than the directory ({"tech_pm": "groups=eng-pms"}), so a replay of the log can
    say on what authority each step was taken. Unchanged for people known by the directory alone."""
    if not actor.authority:
        return data
    return {**data, "authority": dict(actor.authority)}


def person_from_authority(policy: Policy, person: Person, authority: Any) -> Person:
    """The directory's `person` as they acted, from the `authority` an event records: the groups it names
    give, under `policy`, exactly the roles and squad it records, or UnknownIdentity says why not.

    The replay audit's side of `with_authority`: the provider's claims are not in the log, but the
    groups that mattered are, and the policy in force says what each gives.
    """
    if authority is None:
        return person
    identity = policy.identity
    prefix = f"{identity.groups_claim}="
    if not isinstance(authority, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.startswith(prefix) for k, v in authority.items()
    ):
        raise UnknownIdentity(f"its authority {authority!r} names no `{identity.groups_claim}` claim of this policy")
    groups = sorted({claim.removeprefix(prefix) for claim in authority.values()})
    acting = _with_groups(policy, person, {identity.groups_claim: groups})
    if dict(acting.authority) != authority:
        given = repr(dict(acting.authority)) if acting.authority else "no role"
        raise UnknownIdentity(
            f"it records {authority!r} as its authority, but under the policy in force those groups give {given}"
        )
    return acting


def service_from_claims(policy: Policy, claims: Mapping[str, Any]) -> Person:
    """A client-credentials caller: a service account when the policy lists its client id."""
    client = claims.get("client_id") or claims.get("azp")
    if not isinstance(client, str) or not client:
        raise UnknownIdentity("the token names no client (`client_id`)")
    if client not in policy.identity.services:
        raise UnknownIdentity(f"client {client} is not a service account of the policy (`identity.services`)")
    return Person(client, frozenset({SERVICE_ROLE}), authority=((SERVICE_ROLE, f"client_id={client}"),))


def is_client_token(claims: Mapping[str, Any]) -> bool:
    """A token a client obtained for itself (client credentials) rather than for a person.

    RFC 9068 section 2.2: for a client acting on its own behalf, `sub` is the client id. Entra ID
    gives app-only tokens the service principal's id as `sub` instead, and says `idtyp: app`.
    """
    client = claims.get("client_id") or claims.get("azp")
    return isinstance(client, str) and (claims.get("sub") in (None, client) or claims.get("idtyp") == "app")
