"""Sign-in through the organisation's OpenID provider: /login/oidc starts it, the callback finishes it.

The callback turns the provider's verified claims into a directory person (policy.identity) and
opens a server-side session that keeps those claims, so the roles their groups give are worked
out again, under the policy in force, on every request.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from api.auth import runtime_of
from api.oidc import OIDC_STATE, OidcServices
from api.oidc.pending import PENDING_COOKIE, PENDING_SECONDS, seal, unseal
from api.oidc.provider import ProviderUnavailable
from api.oidc.web_client import SignInFailed
from api.web.session import SECURE_COOKIES_STATE, start_session
from policy.identity import UnknownIdentity, person_from_claims

CALLBACK_PATH = "/login/oidc/callback"
#: The claims a session keeps: enough to match the person and map their groups again later.
KEPT_CLAIMS = ("iss", "sub", "email", "email_verified", "name")


def oidc_of(request: Request[Any, Any, Any]) -> OidcServices | None:
    services: OidcServices | None = request.app.state.get(OIDC_STATE)
    return services if services is not None and services.web is not None else None


def site_url(request: Request[Any, Any, Any], path: str) -> str:
    return str(request.base_url).rstrip("/") + path


def _problem_page(request: Request[Any, Any, Any], title: str, message: str, status: int) -> Response[Any]:
    response = Template(
        template_name="error.html.j2",
        context={"title": title, "status": status, "message": message, "user": None, "path": request.url.path},
        status_code=status,
    )
    response.delete_cookie(PENDING_COOKIE, path=CALLBACK_PATH)
    return response


class OidcSignIn(Controller):
    path = "/login/oidc"
    include_in_schema = False

    @get("/", opt={"public": True})
    async def begin(self, request: Request[Any, Any, Any], next: FromQuery[str] = "/") -> Response[Any]:
        from api.web.pages import _safe_next  # the sign-in page's own rule for where to return

        oidc = oidc_of(request)
        if oidc is None or oidc.web is None or oidc.pending_key is None:
            return Redirect("/login", status_code=303)
        redirect_uri = oidc.settings.redirect_url or site_url(request, CALLBACK_PATH)
        try:
            url, pending = await oidc.web.begin(redirect_uri, _safe_next(next))
        except ProviderUnavailable as exc:
            return _problem_page(request, "Sign-in is unavailable", f"{exc}. Try again in a minute.", 503)
        response = Redirect(url, status_code=303)
        response.set_cookie(
            PENDING_COOKIE,
            seal(oidc.pending_key, pending),
            max_age=PENDING_SECONDS,
            path=CALLBACK_PATH,
            httponly=True,
            # lax: the provider sends the browser back with a top-level GET, which carries lax cookies.
            samesite="lax",
            secure=bool(request.app.state.get(SECURE_COOKIES_STATE, False)),
        )
        return response

    @get("/callback", opt={"public": True})
    async def callback(self, request: Request[Any, Any, Any]) -> Response[Any]:
        oidc = oidc_of(request)
        if oidc is None or oidc.web is None or oidc.pending_key is None:
            return Redirect("/login", status_code=303)
        pending = unseal(oidc.pending_key, request.cookies.get(PENDING_COOKIE))
        if pending is None:
            return _problem_page(
                request,
                "Sign-in expired",
                "This sign-in was not started in this browser, or took longer than ten minutes. Start again.",
                400,
            )
        params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
        identity = runtime_of(request).policies.current.identity
        try:
            claims, id_token = await oidc.web.finish(pending, params, (identity.match, identity.groups_claim))
        except SignInFailed as exc:
            return _problem_page(request, "Sign-in failed", str(exc), 401)
        except ProviderUnavailable as exc:
            return _problem_page(request, "Sign-in is unavailable", f"{exc}. Try again in a minute.", 503)
        policy = runtime_of(request).policies.current
        try:
            person = person_from_claims(policy, claims)
        except UnknownIdentity as exc:
            return _problem_page(
                request,
                "Not in the directory",
                f"Your organisation signed you in, but {exc}. Ask the policy owner to add you to `people:`.",
                403,
            )
        groups_claim = policy.identity.groups_claim
        kept = {k: claims[k] for k in (*KEPT_CLAIMS, groups_claim) if k in claims}
        response = Redirect(pending.next, status_code=303)
        response.delete_cookie(PENDING_COOKIE, path=CALLBACK_PATH)
        await start_session(request, response, person.name, via="oidc", claims=kept, id_token=id_token)
        return response
