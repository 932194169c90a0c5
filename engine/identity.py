"""Who is calling: personal API tokens, minted, verified (hashed, constant-time) and revoked.

A token has a scope: `full` (whatever its person may do; the default, as every token before scopes
was) or `read` (GET routes and the classify dry run: for dashboards and scripts that only look).
The API enforces it (api.auth); the pages never take a read-scoped token to begin a session.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Engine, func, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from engine.errors import InvalidInput, NotFound
from engine.store.db import read_transaction, write_transaction
from engine.store.tables import ApiToken
from policy.compiled import FieldError, Person

log = logging.getLogger(__name__)
TOKEN_PREFIX = "drt"
_tokens = ApiToken.__table__  # type: ignore[attr-defined]

TokenScope = Literal["read", "full"]
TOKEN_SCOPES: tuple[TokenScope, ...] = ("read", "full")
DEFAULT_SCOPE: TokenScope = "full"


@dataclass(frozen=True, slots=True)
class TokenHolder:
    """Who a valid personal token belongs to (as the current policy has them), and what the token allows."""

    person: Person
    scope: TokenScope


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
        self._entries: dict[tuple[Any, str], tuple[str, str, float, datetime | None, TokenScope]] = {}
        self._lock = threading.Lock()

    def get(self, url: Any, token_id: str) -> tuple[str, str, datetime | None, TokenScope] | None:
        entry = self._entries.get((url, token_id))
        if entry is None or time.monotonic() - entry[2] >= self.seconds:
            return None
        return entry[0], entry[1], entry[3], entry[4]

    def put(
        self,
        url: Any,
        token_id: str,
        person: str,
        secret_hash: str,
        expires_at: datetime | None,
        scope: TokenScope,
    ) -> None:
        with self._lock:
            if len(self._entries) >= self.capacity:
                self._entries.clear()
            self._entries[(url, token_id)] = (person, secret_hash, time.monotonic(), expires_at, scope)

    def forget_token(self, token_id: str) -> None:
        with self._lock:
            self._entries = {k: v for k, v in self._entries.items() if k[1] != token_id}

    def forget_person(self, person: str) -> None:
        with self._lock:
            self._entries = {k: v for k, v in self._entries.items() if v[0] != person}


TOKEN_CACHE_SECONDS = 2.0
_TOKENS = _TokenCache(TOKEN_CACHE_SECONDS)

#: last_used_at is written at most this often per token and process: a write per request would cost
#: more than the request, and "last used" only needs to tell a token in use from a forgotten one.
LAST_USED_EVERY = 60.0
_LAST_WRITTEN: dict[tuple[Any, str], float] = {}


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as `decisions token list` shows it; never its secret (only its hash is stored)."""

    id: str
    person: str
    label: str | None
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    scope: TokenScope

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "live"


def _expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and expires_at <= now


def _live_expiry(now: datetime) -> Any:
    return or_(_tokens.c.expires_at.is_(None), _tokens.c.expires_at > now)


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Identity:
    """Tokens of the people in the active policy's directory."""

    def __init__(self, engine: Engine, policies: Any, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.policies = policies
        self.clock = clock

    def create_token(
        self,
        person: str,
        label: str | None = None,
        expires_at: datetime | None = None,
        scope: TokenScope = DEFAULT_SCOPE,
    ) -> str:
        if person not in self.policies.current.people:
            raise NotFound(f"{person!r} is not in the policy's people directory")
        if expires_at is not None and expires_at <= self.clock():
            raise InvalidInput([FieldError("$.expires_at", "the expiry must be in the future")])
        if scope not in TOKEN_SCOPES:
            raise InvalidInput([FieldError("$.scope", f"the scope is read or full, not {scope!r}")])
        token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        with write_transaction(self.engine) as conn:
            conn.execute(
                insert(_tokens).values(
                    id=token_id,
                    person=person,
                    secret_hash=_hash_secret(secret),
                    label=label,
                    created_at=self.clock(),
                    expires_at=expires_at,
                    scope=scope,
                )
            )
        return f"{TOKEN_PREFIX}_{token_id}_{secret}"

    def authenticate(self, token: str) -> Person | None:
        """The person a valid token belongs to, whatever its scope (see `holder` for the scope too)."""
        holder = self.holder(token)
        return holder.person if holder is not None else None

    def authenticate_cached(self, token: str) -> Person | Literal[False] | None:
        """`authenticate` without touching the database: False when the answer needs a lookup."""
        holder = self.holder_cached(token)
        return holder.person if isinstance(holder, TokenHolder) else holder

    def holder(self, token: str) -> TokenHolder | None:
        """Whose the token is and its scope; None when it is unknown, revoked, expired or its person left."""
        known = self.holder_cached(token)
        if known is not False:
            return known
        token_id, secret = token.split("_", 2)[1:]  # well-formed: holder_cached checked it
        now = self.clock()
        with read_transaction(self.engine) as conn:
            row = conn.execute(
                select(
                    _tokens.c.person, _tokens.c.secret_hash, _tokens.c.revoked_at, _tokens.c.expires_at,
                    _tokens.c.scope,
                ).where(_tokens.c.id == token_id)
            ).first()  # fmt: skip
        live = row if row is not None and not row.revoked_at and not _expired(row.expires_at, now) else None
        # Compare even when the id is unknown, so timing says nothing about which ids exist.
        expected = live.secret_hash if live is not None else "0" * 64
        if not hmac.compare_digest(_hash_secret(secret), expected) or live is None:
            return None
        _TOKENS.put(self.engine.url, token_id, live.person, expected, live.expires_at, live.scope)
        self._note_use(token_id, now)
        return self._holder(live.person, live.scope)

    def _holder(self, name: str, scope: TokenScope) -> TokenHolder | None:
        # The roles are the current policy's, whatever the cache holds: a directory change applies at once.
        person = self.policies.current.people.get(name)
        return TokenHolder(person, scope) if person is not None else None

    def _note_use(self, token_id: str, now: datetime) -> None:
        """Record the use, at most once a minute per token in this process (the cached path never writes)."""
        key = (self.engine.url, token_id)
        tick = time.monotonic()
        last = _LAST_WRITTEN.get(key)
        if last is not None and tick - last < LAST_USED_EVERY:
            return
        _LAST_WRITTEN[key] = tick
        try:
            with write_transaction(self.engine) as conn:
                conn.execute(update(_tokens).where(_tokens.c.id == token_id).values(last_used_at=now))
        except SQLAlchemyError as exc:  # bookkeeping: never a reason to refuse a valid token
            log.warning("could not record the use of token %s: %s", token_id, exc)

    def holder_cached(self, token: str) -> TokenHolder | Literal[False] | None:
        """`holder` without touching the database: False when the answer needs a lookup."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX or len(parts[1]) != 16:
            return None
        cached = _TOKENS.get(self.engine.url, parts[1])
        if cached is None:
            return False
        person, expected, expires_at, scope = cached
        if not hmac.compare_digest(_hash_secret(parts[2]), expected) or _expired(expires_at, self.clock()):
            return None
        return self._holder(person, scope)

    def revoke_token(self, token_id: str) -> TokenInfo:
        """Revoke one token by its id (the 16 hex characters after `drt_`); NotFound when there is none."""
        _TOKENS.forget_token(token_id)
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(_tokens)
                .where(_tokens.c.id == token_id, _tokens.c.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            )
        found = self.list_tokens(token_id=token_id, include_dead=True)
        if not found:
            raise NotFound(f"no token has the id {token_id!r} (decisions token list shows them)")
        return found[0]

    def list_tokens(
        self, person: str | None = None, *, include_dead: bool = False, token_id: str | None = None
    ) -> list[TokenInfo]:
        """Tokens, oldest first: the live ones, or every one with `include_dead` (revoked, expired)."""
        query = select(
            _tokens.c.id, _tokens.c.person, _tokens.c.label, _tokens.c.created_at, _tokens.c.last_used_at,
            _tokens.c.expires_at, _tokens.c.revoked_at, _tokens.c.scope,
        ).order_by(_tokens.c.created_at, _tokens.c.id)  # fmt: skip
        if person is not None:
            query = query.where(_tokens.c.person == person)
        if token_id is not None:
            query = query.where(_tokens.c.id == token_id)
        if not include_dead:
            query = query.where(_tokens.c.revoked_at.is_(None), _live_expiry(self.clock()))
        with read_transaction(self.engine) as conn:
            rows = conn.execute(query).all()
        return [TokenInfo(*row) for row in rows]

    def live_tokens(self, person: str) -> int:
        with read_transaction(self.engine) as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(_tokens)
                    .where(_tokens.c.person == person, _tokens.c.revoked_at.is_(None), _live_expiry(self.clock()))
                ).scalar_one()
            )

    def revoke_tokens(self, person: str) -> int:
        _TOKENS.forget_person(person)
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                update(_tokens)
                .where(_tokens.c.person == person, _tokens.c.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            )
        return result.rowcount
