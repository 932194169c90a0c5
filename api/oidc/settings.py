"""OpenID Connect settings from the environment. No issuer: sign-in stays by pasted token."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_SCOPES = "openid email profile"


@dataclass(frozen=True, slots=True)
class OidcSettings:
    #: The provider's issuer URL; its discovery document is `{issuer}/.well-known/openid-configuration`.
    issuer: str
    #: The web sign-in client (authorization code + PKCE). Without it, only bearer JWTs are accepted.
    client_id: str | None = None
    client_secret: str | None = None
    scopes: str = DEFAULT_SCOPES
    #: The `aud` that access tokens for this API carry. Without it, bearer JWTs are refused.
    audience: str | None = None
    #: Where the provider sends the browser back (`.../login/oidc/callback`); default: from the request.
    redirect_url: str | None = None
    #: Seconds between two JWKS fetches caused by an unknown key id (keys rotate; garbage does not).
    jwks_refresh_seconds: float = 10.0

    @classmethod
    def from_env(cls) -> OidcSettings | None:
        issuer = os.environ.get("DECISIONS_OIDC_ISSUER", "").strip()
        if not issuer:
            return None
        refresh = os.environ.get("DECISIONS_OIDC_JWKS_REFRESH_SECONDS") or "10"
        try:
            refresh_seconds = float(refresh)
        except ValueError:
            raise ValueError(
                f"DECISIONS_OIDC_JWKS_REFRESH_SECONDS must be a number of seconds, not {refresh!r}"
            ) from None
        return cls(
            issuer=issuer,
            client_id=os.environ.get("DECISIONS_OIDC_CLIENT_ID") or None,
            client_secret=os.environ.get("DECISIONS_OIDC_CLIENT_SECRET") or None,
            scopes=os.environ.get("DECISIONS_OIDC_SCOPES") or DEFAULT_SCOPES,
            audience=os.environ.get("DECISIONS_OIDC_AUDIENCE") or None,
            redirect_url=os.environ.get("DECISIONS_OIDC_REDIRECT_URL") or None,
            jwks_refresh_seconds=refresh_seconds,
        )

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"

    @property
    def web_sign_in(self) -> bool:
        return self.client_id is not None
