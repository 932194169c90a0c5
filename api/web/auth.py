"""Who is looking at a page: the session's token, checked against the same roles as the API."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect, Template

from api.auth import SESSION_TOKEN_KEY, authenticate


class LoginRequired(NotAuthorizedException):
    """No session, or its token no longer works: send the browser to the sign-in page."""


async def web_authorize(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    if handler.opt.get("public"):
        return
    roles = handler.opt.get("roles")
    session = connection.scope.get("session") or {}
    token = session.get(SESSION_TOKEN_KEY) if isinstance(session, dict) else None
    person = await authenticate(connection, token) if token else None
    if person is None:
        raise LoginRequired("sign in first")
    connection.scope["user"] = person
    if not isinstance(roles, frozenset | set):
        raise PermissionDeniedException("this page declares no roles; it is closed to everyone")
    if not person.roles & roles:
        raise PermissionDeniedException(
            f"{person.name} holds {', '.join(sorted(person.roles))}; this page needs one of {', '.join(sorted(roles))}"
        )


def login_redirect(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        target = "/"
    if request.headers.get("hx-request"):
        # htmx would swap the sign-in page into a fragment; tell it to navigate instead.
        return Response(None, status_code=204, headers={"HX-Redirect": f"/login?next={quote(target)}"})
    return Redirect(f"/login?next={quote(target)}", status_code=303)


def forbidden_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    detail = getattr(exc, "detail", None) or str(exc)
    return Template(
        template_name="error.html.j2",
        context={
            "title": "Not allowed",
            "status": 403,
            "message": detail,
            "user": request.scope.get("user"),
            "path": request.url.path,
        },
        status_code=403,
    )
