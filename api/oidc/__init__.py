"""OpenID Connect: web sign-in through the organisation's provider, and its access tokens on the API.

Configured by environment (`api.oidc.settings`); with no issuer configured nothing here is active
and sign-in stays by pasted API token.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.oidc.access_tokens import AccessTokens
from api.oidc.provider import Provider
from api.oidc.settings import OidcSettings

#: app.state key of the OidcServices (absent when no issuer is configured).
OIDC_STATE = "oidc"


@dataclass(frozen=True, slots=True)
class OidcServices:
    settings: OidcSettings
    provider: Provider
    access_tokens: AccessTokens

    @classmethod
    def from_settings(cls, settings: OidcSettings) -> OidcServices:
        provider = Provider(settings)
        return cls(settings, provider, AccessTokens(provider, settings.audience))
