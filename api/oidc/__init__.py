"""OpenID Connect: web sign-in through the organisation's provider, and its access tokens on the API.

Configured by environment (`api.oidc.settings`); with no issuer configured nothing here is active
and sign-in stays by pasted API token.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.oidc.access_tokens import AccessTokens
from api.oidc.pending import pending_key as derive_pending_key
from api.oidc.provider import Provider
from api.oidc.settings import OidcSettings
from api.oidc.web_client import WebSignIn

#: app.state key of the OidcServices (absent when no issuer is configured).
OIDC_STATE = "oidc"


@dataclass(frozen=True, slots=True)
class OidcServices:
    settings: OidcSettings
    provider: Provider
    access_tokens: AccessTokens
    #: The web sign-in (None without a client id), and the key that seals its pending state.
    web: WebSignIn | None = None
    pending_key: bytes | None = None

    @classmethod
    def from_settings(cls, settings: OidcSettings, session_secret: bytes | None = None) -> OidcServices:
        provider = Provider(settings)
        web = WebSignIn(settings) if settings.web_sign_in and session_secret is not None else None
        key = derive_pending_key(session_secret) if web is not None and session_secret is not None else None
        return cls(settings, provider, AccessTokens(provider, settings.audience), web, key)
