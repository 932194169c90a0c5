"""Security headers on every response, and the page policy that keeps them honest.

Pages load their script and stylesheet from /static only; nothing may frame them (clickjacking
of the approve button), browsers must not guess a media type, and a link followed off the site
carries no path. The interactive OpenAPI page under /schema loads its renderer from a CDN, so it
keeps only the headers that do not restrict sources.
"""

from __future__ import annotations

from litestar.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_EVERYWHERE = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
_RESTRICTED = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
]


def security_headers(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        extra = _EVERYWHERE if scope["path"].startswith("/schema") else _EVERYWHERE + _RESTRICTED

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in present)]
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware
