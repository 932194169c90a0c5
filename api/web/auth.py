"""Who is looking at a page: the server-side session, checked against the same roles as the API."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect, Template

from api.auth import runtime_of
from api.params import refuse_control_characters, refuse_null_for_typed
from api.web.session import current_session
from engine.sessions import LiveSession
from policy.compiled import Person, Policy
from policy.identity import UnknownIdentity, person_from_claims


class LoginRequired(NotAuthorizedException):
    """No session, or it ended (signed out, timed out, token revoked): send the browser to the sign-in page."""


async def web_authorize(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    refuse_control_characters(connection)
    refuse_null_for_typed(connection, handler)
    if handler.opt.get("public"):
        return
    roles = handler.opt.get("roles")
    session = await current_session(connection)
    # The roles are the current policy's: someone who left the directory is signed out at once.
    person = session_person(runtime_of(connection).policies.current, session) if session else None
    if person is None:
        raise LoginRequired("sign in first")
    connection.scope["user"] = person
    if not isinstance(roles, frozenset | set):
        raise PermissionDeniedException("this page declares no roles; it is closed to everyone")
    if not person.roles & roles:
        raise PermissionDeniedException(
            f"{person.name} holds {', '.join(sorted(person.roles))}; this page needs one of {', '.join(sorted(roles))}"
        )


def session_person(policy: Policy, session: LiveSession) -> Person | None:
    """Who a live session is now: the directory's person, with the roles their provider's groups give today."""
    if session.claims is None:
        return policy.people.get(session.person)
    try:
        person = person_from_claims(policy, session.claims)
    except UnknownIdentity:
        return None
    # The directory may have given the address to someone else since: that is not this session's person.
    return person if person.name == session.person else None


def login_redirect(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        target = "/"
    if request.headers.get("hx-request"):
        # htmx would swap the sign-in page into a fragment; tell it to navigate instead.
        return Response(None, status_code=204, headers={"HX-Redirect": f"/login?next={quote(target)}"})
    return Redirect(f"/login?next={quote(target)}", status_code=303)


def forbidden_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    return _error_page(request, exc, "Not allowed", 403)


def not_found_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A page, not the API's problem document: a missing decision (or a mistyped address) in the browser."""
    return _error_page(request, exc, "Not found", 404)


def _error_page(request: Request[Any, Any, Any], exc: Exception, title: str, status: int) -> Response[Any]:
    detail = getattr(exc, "detail", None) or str(exc)
    return Template(
        template_name="error.html.j2",
        context={"title": title, "status": status, "message": detail, "user": request.scope.get("user"),
                 "path": request.url.path},
        status_code=status,
    )  # fmt: skip
