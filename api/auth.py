"""Bearer-token authentication and role authorisation, as one guard.

Every route under the guard must declare who may call it in `opt={"roles": {...}}`;
a route that forgets fails closed (403), and a test walks the app to prove none forgot.

A personal token of scope `read` may call GET routes and those that declare
`opt={"changes_nothing": True}` (classify: a dry run); any other route refuses it with 403.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ServiceUnavailableException,
    ValidationException,
)
from litestar.handlers.base import BaseRouteHandler

from api.oidc import OIDC_STATE, OidcServices
from api.oidc.access_tokens import TokenRefused, looks_like_jwt
from api.oidc.provider import ProviderUnavailable
from api.params import duplicate_key, refuse_control_characters, refuse_null_for_typed, refuse_undeclared_query
from engine.identity import TokenHolder
from engine.runtime import Runtime
from policy.compiled import ROLES, Person
from policy.identity import SERVICE_ROLE, UnknownIdentity, is_client_token, person_from_claims, service_from_claims

#: Every role a person of the directory can hold.
EVERYONE: frozenset[str] = frozenset(ROLES)
#: Machine clients (client-credentials tokens the policy lists): classify, read decisions, the gate.
SERVICES: frozenset[str] = frozenset({SERVICE_ROLE})
#: Routes that only read decisions (or classify, which stores nothing): people and service accounts.
READERS: frozenset[str] = EVERYONE | SERVICES
FILERS: frozenset[str] = frozenset({"squad_member", "tech_pm", "director", "admin"})
APPROVERS: frozenset[str] = frozenset({"tech_pm", "director"})
#: Who may act on a decision's route: approvers in their own right and anyone holding a delegation.
DECIDERS: frozenset[str] = FILERS
AUDITORS: frozenset[str] = frozenset({"auditor", "admin"})
ADMINS: frozenset[str] = frozenset({"admin"})


def runtime_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Runtime:
    runtime: Runtime = connection.app.state.runtime
    return runtime


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthorizedException("the Authorization header must be `Bearer <token>`")
    return token.strip()


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any], token: str) -> TokenHolder | None:
    """Whose personal token this is, and its scope."""
    identity = runtime_of(connection).service.identity
    known = identity.holder_cached(token)  # no I/O: safe on the event loop
    if known is not False:
        return known
    return await anyio.to_thread.run_sync(identity.holder, token)


READ_METHODS = frozenset({"GET", "HEAD"})


def refuse_read_scope(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler, who: str) -> None:
    """A read-scoped token reads (and classifies, which stores nothing); it never changes anything."""
    if connection.scope.get("method", "GET") in READ_METHODS or handler.opt.get("changes_nothing"):
        return
    raise PermissionDeniedException(
        f"this token of {who} has scope read: it may only read (GET) and classify; "
        f"{connection.scope.get('method')} {connection.url.path} needs a token of scope full"
    )


async def authenticate_access_token(connection: ASGIConnection[Any, Any, Any, Any], token: str) -> Person:
    """A bearer JWT from the identity provider: a service account, or a person of the directory."""
    oidc: OidcServices | None = connection.app.state.get(OIDC_STATE)
    if oidc is None:
        raise NotAuthorizedException("this service accepts no identity-provider tokens (no issuer is configured)")
    runtime = runtime_of(connection)
    try:
        claims = await oidc.access_tokens.verify(token, runtime.service.clock())
    except TokenRefused as exc:
        description = str(exc).replace('"', "'")
        challenge = f'Bearer realm="decision-rights", error="invalid_token", error_description="{description}"'
        raise NotAuthorizedException(str(exc), headers={"WWW-Authenticate": challenge}) from None
    except ProviderUnavailable as exc:
        raise ServiceUnavailableException(str(exc), headers={"Retry-After": "30"}) from None
    policy = runtime.policies.current
    try:
        return service_from_claims(policy, claims) if is_client_token(claims) else person_from_claims(policy, claims)
    except UnknownIdentity as exc:
        raise PermissionDeniedException(str(exc)) from None


JSON_TYPES = ("application/json", "application/problem+json")


async def authorize(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    refuse_control_characters(connection)
    refuse_undeclared_query(connection, handler)
    refuse_null_for_typed(connection, handler)
    roles = handler.opt.get("roles")
    if handler.opt.get("body_type") is not None:
        media_type = connection.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in JSON_TYPES:
            raise HTTPException(
                status_code=415, detail=f"send the body as application/json, not {media_type or 'nothing'}"
            )
        # The body is read once and kept on the connection; the handler decodes the same bytes.
        repeated = duplicate_key(await Request(connection.scope, connection.receive).body())
        if repeated is not None:
            raise ValidationException(
                f"{repeated}: the key appears more than once",
                extra=[{"key": repeated, "source": "body", "message": "the key appears more than once"}],
            )
    # Bearer only: the API never reads the web session's cookie (no CSRF surface, no token in a cookie).
    token = bearer_token(connection)
    if token is None:
        raise NotAuthorizedException("no credentials: send `Authorization: Bearer <token>`")
    if looks_like_jwt(token):
        person: Person | None = await authenticate_access_token(connection, token)
        scope = "full"  # the provider's token: what it may do is its person's or service account's roles
    else:
        holder = await authenticate(connection, token)
        person, scope = (holder.person, holder.scope) if holder is not None else (None, "full")
    if person is None:
        raise NotAuthorizedException("the token is unknown, revoked, or its person left the directory")
    connection.scope["user"] = person
    if not isinstance(roles, frozenset | set):
        raise PermissionDeniedException("this route declares no roles; it is closed to everyone")
    if scope == "read":
        refuse_read_scope(connection, handler, person.name)
    if not person.roles & roles:
        held = ", ".join(sorted(person.roles)) or "no role"
        allowed = ", ".join(sorted(roles))
        raise PermissionDeniedException(f"{person.name} holds {held}; this needs one of: {allowed}")
