"""The sign-in a browser started, kept in that browser until the provider sends it back.

An encrypted, authenticated cookie (AES-GCM under a key derived from the session secret every
worker shares), so any worker can finish a sign-in another began, the PKCE verifier and nonce
never leave the browser in the clear, and a cookie that was altered, or is older than ten
minutes, finishes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from api.oidc.web_client import PendingSignIn

PENDING_COOKIE = "decisions_oidc_pending"
PENDING_SECONDS = 600
_AAD = b"decisions-oidc-pending-v1"


def pending_key(session_secret: bytes) -> bytes:
    return hashlib.sha256(b"oidc-pending\x00" + session_secret).digest()


def seal(key: bytes, pending: PendingSignIn, now: float | None = None) -> str:
    body = {
        "state": pending.state,
        "nonce": pending.nonce,
        "verifier": pending.code_verifier,
        "redirect_uri": pending.redirect_uri,
        "next": pending.next,
        "exp": int((now or time.time()) + PENDING_SECONDS),
    }
    iv = os.urandom(12)
    sealed = AESGCM(key).encrypt(iv, json.dumps(body).encode(), _AAD)
    return base64.urlsafe_b64encode(iv + sealed).decode().rstrip("=")


def unseal(key: bytes, value: str | None, now: float | None = None) -> PendingSignIn | None:
    """The pending sign-in, or None when the cookie is missing, altered or expired."""
    if not value:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        body = json.loads(AESGCM(key).decrypt(raw[:12], raw[12:], _AAD))
    except (ValueError, InvalidTag):
        return None
    if not isinstance(body, dict) or body.get("exp", 0) < (now or time.time()):
        return None
    return PendingSignIn(body["state"], body["nonce"], body["verifier"], body["redirect_uri"], body["next"])
