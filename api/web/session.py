"""Sessions and CSRF for the web pages: the secrets live beside the signing key, never in the database."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from litestar.config.csrf import CSRFConfig
from litestar.middleware.session.client_side import CookieBackendConfig

SECRET_FILE = "session.secret"
#: Paths that never use cookies (bearer-token API, probes, schema): CSRF does not apply there.
CSRF_EXEMPT = ["^/v1/", "^/healthz", "^/schema", "^/metrics"]


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


def web_security(state_dir: Path, secure_cookies: bool) -> tuple[CookieBackendConfig, CSRFConfig]:
    secret = session_secret(state_dir)
    session = CookieBackendConfig(
        secret=secret,
        key="decisions_session",
        max_age=12 * 3600,
        httponly=True,
        samesite="lax",
        secure=secure_cookies,
        exclude=CSRF_EXEMPT,
    )
    csrf = CSRFConfig(
        secret=secret.hex() + "-csrf",
        cookie_name="decisions_csrf",
        cookie_secure=secure_cookies,
        cookie_httponly=True,
        cookie_samesite="strict",
        exclude=CSRF_EXEMPT,
    )
    return session, csrf
