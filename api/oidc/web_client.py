"""Web sign-in with the authorization code flow, PKCE, state and nonce, by Authlib.

Authlib's framework-neutral async OAuth 2 + OpenID mixins do the protocol: discovery, the
authorization URL with PKCE (S256) and a nonce, the code exchange, and the ID token's validation
(signature against the provider's JWKS, fetched again when the token names an unknown key id;
issuer, audience, expiry, nonce, at_hash). What lives here is only the glue a framework
integration would add: keeping the pending sign-in between the two legs (api.oidc.pending).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.base_client import BaseApp, OAuthError
from authlib.integrations.base_client.async_app import AsyncOAuth2Mixin
from authlib.integrations.base_client.async_openid import AsyncOpenIDMixin
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc.errors import JoseError

from api.oidc.provider import HTTP_TIMEOUT_SECONDS, ProviderUnavailable
from api.oidc.settings import OidcSettings


class SignInFailed(Exception):
    """The provider's answer cannot sign anyone in; the message says why, for the page."""


class _AuthlibApp(AsyncOAuth2Mixin, AsyncOpenIDMixin, BaseApp):  # type: ignore[misc]
    """Authlib's Starlette app without Starlette: the same mixins, no request or session object."""

    client_cls = AsyncOAuth2Client


@dataclass(frozen=True, slots=True)
class PendingSignIn:
    """What the callback needs to finish a sign-in the browser started."""

    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    next: str


class WebSignIn:
    def __init__(self, settings: OidcSettings) -> None:
        if settings.client_id is None:
            raise ValueError("web sign-in needs DECISIONS_OIDC_CLIENT_ID")
        self.settings = settings
        self.app = _AuthlibApp(
            framework=None,
            name="oidc",
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            server_metadata_url=settings.discovery_url,
            client_kwargs={
                "scope": settings.scopes,
                "code_challenge_method": "S256",
                "timeout": HTTP_TIMEOUT_SECONDS,
            },
        )

    async def begin(self, redirect_uri: str, next_path: str) -> tuple[str, PendingSignIn]:
        """The provider's authorization URL to send the browser to, and what to keep until it returns."""
        state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        try:
            found = await self.app.create_authorization_url(
                redirect_uri, state=state, nonce=nonce, code_verifier=verifier
            )
        except (httpx.HTTPError, ValueError, RuntimeError) as exc:
            raise ProviderUnavailable(f"the identity provider's discovery document did not load: {exc}") from exc
        return str(found["url"]), PendingSignIn(state, nonce, verifier, redirect_uri, next_path)

    async def finish(
        self, pending: PendingSignIn, params: dict[str, str], wanted: tuple[str, ...] = ("email",)
    ) -> tuple[dict[str, Any], str]:
        """The verified claims (ID token, completed from userinfo when it lacks a `wanted` one) and the raw ID token."""
        if "error" in params:
            described = params.get("error_description") or params["error"]
            raise SignInFailed(f"the identity provider did not sign you in: {described}")
        if not secrets.compare_digest(params.get("state", ""), pending.state):
            raise SignInFailed("this sign-in answer does not belong to the sign-in this browser started")
        metadata = await self.app.load_server_metadata()
        # RFC 9207: where the provider names itself in the answer, it must be the issuer we asked.
        if "iss" in params and params["iss"] != metadata.get("issuer"):
            raise SignInFailed(f"the answer comes from {params['iss']}, not from {metadata.get('issuer')}")
        if not params.get("code"):
            raise SignInFailed("the identity provider sent no authorization code")
        try:
            token = await self.app.fetch_access_token(
                redirect_uri=pending.redirect_uri, code=params["code"], code_verifier=pending.code_verifier
            )
            if "id_token" not in token:
                raise SignInFailed("the identity provider sent no ID token (is `openid` among the scopes?)")
            claims = dict(await self.app.parse_id_token(token, nonce=pending.nonce))
            claims = await self._with_userinfo(token, claims, wanted)
        except (OAuthError, JoseError) as exc:
            raise SignInFailed(f"the identity provider's answer does not verify: {exc}") from exc
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"the identity provider did not answer: {exc}") from exc
        return claims, str(token["id_token"])

    async def _with_userinfo(
        self, token: dict[str, Any], claims: dict[str, Any], wanted: tuple[str, ...]
    ) -> dict[str, Any]:
        """Providers may keep e-mail and groups out of the ID token (OIDC Core 5.4): ask userinfo for them."""
        metadata = await self.app.load_server_metadata()
        if all(name in claims for name in wanted) or not metadata.get("userinfo_endpoint"):
            return claims
        info = dict(await self.app.userinfo(token=token))
        if info.get("sub") != claims.get("sub"):  # OIDC Core 5.3.2: otherwise the answer must not be used
            raise SignInFailed("the provider's userinfo describes someone other than the ID token")
        return {**info, **claims}

    async def logout_url(self, id_token: str | None, post_logout_redirect_uri: str) -> str | None:
        """The provider's end-session URL (RP-initiated logout), or None when it offers none."""
        try:
            metadata = await self.app.load_server_metadata()
        except httpx.HTTPError:
            return None
        if not metadata.get("end_session_endpoint"):
            return None
        found = await self.app.create_logout_url(
            post_logout_redirect_uri=post_logout_redirect_uri, id_token_hint=id_token, client_id=self.settings.client_id
        )
        return str(found["url"])
