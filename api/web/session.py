"""Web sessions (server-side, see engine.sessions) and CSRF for the pages.

The session cookie holds only a random id; the CSRF secret lives beside the signing key,
never in the database. `start_session` is how any sign-in (a pasted token, OpenID Connect)
opens a session, and `end_session` how sign-out closes it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import anyio.to_thread
from litestar import Response
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection

from engine.runtime import Runtime
from engine.sessions import LiveSession

SECRET_FILE = "session.secret"
SESSION_COOKIE = "decisions_session"
#: Paths that never use cookies (bearer-token API, probes, schema, Slack's signed requests): no CSRF there.
CSRF_EXEMPT = ["^/v1/", "^/healthz", "^/readyz", "^/schema", "^/metrics", "^/slack/"]
#: app.state key: whether cookies carry the Secure attribute (DECISIONS_SECURE_COOKIES=1 behind TLS).
SECURE_COOKIES_STATE = "decisions_secure_cookies"


def session_secret(state_dir: Path) -> bytes:
    """DECISIONS_SESSION_SECRET (hex), else a 32-byte secret created once (0600) so every worker shares it."""
    from_env = os.environ.get("DECISIONS_SESSION_SECRET")
    if from_env:
        secret = bytes.fromhex(from_env)
        if len(secret) != 32:
            raise ValueError("DECISIONS_SESSION_SECRET must be 64 hex characters (32 bytes)")
        return secret
    path = state_dir / SECRET_FILE
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another worker won the race; read theirs
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def csrf_config(state_dir: Path, secure_cookies: bool) -> CSRFConfig:
    secret = session_secret(state_dir)
    return CSRFConfig(
        secret=secret.hex() + "-csrf",
        cookie_name="decisions_csrf",
        cookie_secure=secure_cookies,
        cookie_httponly=True,
        cookie_samesite="strict",
        exclude=CSRF_EXEMPT,
    )


def _runtime(connection: ASGIConnection[Any, Any, Any, Any]) -> Runtime:
    runtime: Runtime = connection.app.state.runtime
    return runtime


def _secure(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    return bool(connection.app.state.get(SECURE_COOKIES_STATE, False))


def _set_cookie(connection: ASGIConnection[Any, Any, Any, Any], response: Response[Any], value: str, age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(connection),
    )


async def start_session(
    connection: ASGIConnection[Any, Any, Any, Any],
    response: Response[Any],
    person_name: str,
    via: str = "token",
    token_id: str | None = None,
    claims: dict[str, Any] | None = None,
    id_token: str | None = None,
) -> None:
    """Sign `person_name` in: a new server-side session, its id in the cookie of `response`.

    Any session this browser already had ends first (no fixation: the id is always new).
    `token_id` ties a token sign-in to its token, so revoking the token ends the session.
    `claims` and `id_token`: an OpenID Connect sign-in's verified claims (roles from groups are
    derived from them again on every request) and the ID token (for signing out at the provider).
    """
    store = _runtime(connection).sessions
    old = connection.cookies.get(SESSION_COOKIE)
    if old:
        await anyio.to_thread.run_sync(store.end, old)
    session_id = await anyio.to_thread.run_sync(store.start, person_name, via, token_id, claims, id_token)
    _set_cookie(connection, response, session_id, int(store.absolute.total_seconds()))


async def end_session(connection: ASGIConnection[Any, Any, Any, Any], response: Response[Any]) -> None:
    """Sign out: the session ends in the database (every worker), and the browser forgets the id."""
    session_id = connection.cookies.get(SESSION_COOKIE)
    if session_id:
        await anyio.to_thread.run_sync(_runtime(connection).sessions.end, session_id)
    response.delete_cookie(SESSION_COOKIE, path="/")


async def current_session(connection: ASGIConnection[Any, Any, Any, Any]) -> LiveSession | None:
    session_id = connection.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    return await anyio.to_thread.run_sync(_runtime(connection).sessions.lookup, session_id)
