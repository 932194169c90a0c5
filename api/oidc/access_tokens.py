"""Bearer JWT access tokens from the organisation's provider (RFC 9068): signature, issuer, audience, expiry.

The checks are joserfc's (the JOSE library Authlib itself builds on); this module chooses what is
required and says in words why a token is refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jws import JWSRegistry

from api.oidc.provider import Provider

#: Asymmetric algorithms only: a token signed with a shared secret (HS*) or unsigned is never accepted.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
#: Clock skew tolerated between the provider and this service.
LEEWAY_SECONDS = 30


class TokenRefused(Exception):
    """The token is not one this API accepts; the message says why, for the 401's detail."""


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


class AccessTokens:
    def __init__(self, provider: Provider, audience: str | None) -> None:
        self.provider = provider
        self.audience = audience

    async def verify(self, token: str, now: datetime) -> dict[str, Any]:
        """The token's claims; raises TokenRefused, or ProviderUnavailable when the keys cannot be had."""
        if self.audience is None:
            raise TokenRefused("this service accepts no access tokens from the identity provider (no audience set)")
        keys, fresh = await self.provider.keys()
        registry = JWSRegistry(algorithms=list(ALGORITHMS))
        try:
            try:
                decoded = jwt.decode(token, keys, algorithms=list(ALGORITHMS), registry=registry)
            except InvalidKeyIdError:
                if fresh:
                    raise
                keys, fresh = await self.provider.keys(unknown_kid=True)
                if not fresh:
                    raise
                decoded = jwt.decode(token, keys, algorithms=list(ALGORITHMS), registry=registry)
        except InvalidKeyIdError:
            raise TokenRefused("the token is signed with a key the identity provider does not publish") from None
        except BadSignatureError:
            raise TokenRefused("the token's signature does not verify") from None
        except JoseError as exc:
            raise TokenRefused(f"the token is not a valid signed JWT ({exc.error})") from None
        except ValueError:
            raise TokenRefused("the token is not a valid signed JWT") from None
        claims = decoded.claims
        checks = jwt.JWTClaimsRegistry(
            now=int(now.timestamp()),
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": self.provider.issuer},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
        )
        try:
            checks.validate(claims)
        except ExpiredTokenError:
            raise TokenRefused("the token has expired") from None
        except MissingClaimError as exc:
            raise TokenRefused(f"the token lacks a required claim ({exc.description})") from None
        except InvalidClaimError as exc:
            claim = exc.claim
            if claim == "aud":
                raise TokenRefused(f"the token is for {claims.get('aud')!r}, not this API ({self.audience})") from None
            if claim == "iss":
                raise TokenRefused(
                    f"the token was issued by {claims.get('iss')!r}, not {self.provider.issuer}"
                ) from None
            raise TokenRefused(f"the token's {claim or 'claims'} are not valid ({exc.description})") from None
        except ClaimError as exc:
            raise TokenRefused(f"the token's claims are not valid ({exc.description})") from None
        return claims
