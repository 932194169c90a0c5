"""Who is calling: personal API tokens, minted, verified (hashed, constant-time) and revoked."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Engine, insert, select, update

from engine.errors import NotFound
from engine.store.db import read_transaction, write_transaction
from engine.store.tables import ApiToken
from policy.compiled import Person

TOKEN_PREFIX = "drt"
_tokens = ApiToken.__table__  # type: ignore[attr-defined]


class _TokenCache:
    """Verified tokens (id -> person, secret hash) for a few seconds, shared by every service of a process.

    A filing paid more for its token lookup (a read transaction and a thread hand-off) than for
    classifying. Only valid, unrevoked tokens are kept, and the secret is still compared in
    constant time on every request. Revocation clears the process's entries at once; another
    worker process stops accepting the token within TOKEN_CACHE_SECONDS.
    """

    def __init__(self, seconds: float, capacity: int = 10_000) -> None:
        self.seconds = seconds
        self.capacity = capacity
        self._entries: dict[tuple[Any, str], tuple[str, str, float]] = {}
        self._lock = threading.Lock()

    def get(self, url: Any, token_id: str) -> tuple[str, str] | None:
        entry = self._entries.get((url, token_id))
        if entry is None or time.monotonic() - entry[2] >= self.seconds:
            return None
        return entry[0], entry[1]

    def put(self, url: Any, token_id: str, person: str, secret_hash: str) -> None:
        with self._lock:
            if len(self._entries) >= self.capacity:
                self._entries.clear()
            self._entries[(url, token_id)] = (person, secret_hash, time.monotonic())

    def forget_person(self, person: str) -> None:
        with self._lock:
            self._entries = {k: v for k, v in self._entries.items() if v[0] != person}


TOKEN_CACHE_SECONDS = 2.0
_TOKENS = _TokenCache(TOKEN_CACHE_SECONDS)


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Identity:
    """Tokens of the people in the active policy's directory."""

    def __init__(self, engine: Engine, policies: Any, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.policies = policies
        self.clock = clock

    def create_token(self, person: str, label: str | None = None) -> str:
        if person not in self.policies.current.people:
            raise NotFound(f"{person!r} is not in the policy's people directory")
        token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        with write_transaction(self.engine) as conn:
            conn.execute(
                insert(_tokens).values(
                    id=token_id,
                    person=person,
                    secret_hash=_hash_secret(secret),
                    label=label,
                    created_at=self.clock(),
                )
            )
        return f"{TOKEN_PREFIX}_{token_id}_{secret}"

    def authenticate(self, token: str) -> Person | None:
        known = self.authenticate_cached(token)
        if known is not False:
            return known
        token_id, secret = token.split("_", 2)[1:]  # well-formed: authenticate_cached checked it
        with read_transaction(self.engine) as conn:
            row = conn.execute(
                select(_tokens.c.person, _tokens.c.secret_hash, _tokens.c.revoked_at).where(_tokens.c.id == token_id)
            ).first()
        live = row if row is not None and not row.revoked_at else None
        # Compare even when the id is unknown, so timing says nothing about which ids exist.
        expected = live.secret_hash if live is not None else "0" * 64
        if not hmac.compare_digest(_hash_secret(secret), expected) or live is None:
            return None
        _TOKENS.put(self.engine.url, token_id, live.person, expected)
        return self.policies.current.people.get(live.person)

    def authenticate_cached(self, token: str) -> Person | Literal[False] | None:
        """`authenticate` without touching the database: False when the answer needs a lookup."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX or len(parts[1]) != 16:
            return None
        cached = _TOKENS.get(self.engine.url, parts[1])
        if cached is None:
            return False
        person, expected = cached
        if not hmac.compare_digest(_hash_secret(parts[2]), expected):
            return None
        # The roles are the current policy's, whatever the cache holds: a directory change applies at once.
        return self.policies.current.people.get(person)

    def revoke_tokens(self, person: str) -> int:
        _TOKENS.forget_person(person)
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                update(_tokens)
                .where(_tokens.c.person == person, _tokens.c.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            )
        return result.rowcount
