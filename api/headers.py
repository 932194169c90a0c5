"""Security headers on every response, and the page policy that keeps them honest.

Pages load their script and stylesheet from /static only; nothing may frame them (clickjacking
of the approve button), browsers must not guess a media type, and a link followed off the site
carries no path. The interactive OpenAPI page under /schema loads its renderer from a CDN, so it
keeps only the headers that do not restrict sources.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from litestar.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _policy_with_issuer() -> str:
    """Browsers apply form-action to the redirects a form submission leads to: signing out (POST /logout)
    ends at the OpenID provider's end-session endpoint, so its origin must be allowed there too."""
    issuer = os.environ.get("DECISIONS_OIDC_ISSUER", "").strip()
    parts = urlsplit(issuer)
    if not parts.scheme or not parts.netloc:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace("form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}")


_EVERYWHERE = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


def security_headers(app: ASGIApp) -> ASGIApp:
    restricted = [
        (b"content-security-policy", _policy_with_issuer().encode()),
        (b"x-frame-options", b"DENY"),
    ]

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        extra = _EVERYWHERE if scope["path"].startswith("/schema") else _EVERYWHERE + restricted

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in present)]
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware
