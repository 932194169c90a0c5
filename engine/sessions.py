"""Server-side web sessions on a table every worker shares.

The browser's cookie carries only a random id; the row says whose session it is, how it began,
and when it was last used. A session ends at sign-out, when the token it began with is revoked,
after `idle` without a request, and `absolute` after it began, whichever comes first.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, delete, insert, or_, select, update

from engine.store.db import read_transaction, write_transaction
from engine.store.session_tables import WebSession
from engine.store.tables import ApiToken

_sessions = WebSession.__table__  # type: ignore[attr-defined]
_tokens = ApiToken.__table__  # type: ignore[attr-defined]

DEFAULT_IDLE = timedelta(minutes=30)
DEFAULT_ABSOLUTE = timedelta(hours=12)
#: last_seen_at is written at most this often: a page view is a read, not a write, most of the time.
TOUCH_EVERY = timedelta(seconds=60)
#: What `secrets.token_urlsafe(32)` produces; anything else is not one of ours and costs no query.
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{43}$")


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def token_id_of(token: str) -> str | None:
    """The id part of an API token (`drt_<id>_<secret>`), which a revocation names."""
    parts = token.split("_", 2)
    return parts[1] if len(parts) == 3 and len(parts[1]) == 16 else None


def _minutes_from_env(name: str, default: timedelta) -> timedelta:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        minutes = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of minutes, not {raw!r}") from None
    if not 0 < minutes < 60 * 24 * 366:
        raise ValueError(f"{name} must be between 0 and a year of minutes, not {raw!r}")
    return timedelta(minutes=minutes)


@dataclass(frozen=True)
class LiveSession:
    person: str
    via: str
    created_at: datetime
    #: For "oidc" sessions: the provider's verified claims and the ID token (see WebSession).
    claims: dict[str, Any] | None = None
    id_token: str | None = None


class SessionStore:
    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], datetime],
        idle: timedelta = DEFAULT_IDLE,
        absolute: timedelta = DEFAULT_ABSOLUTE,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.idle = idle
        self.absolute = absolute

    @classmethod
    def from_env(cls, engine: Engine, clock: Callable[[], datetime]) -> SessionStore:
        """DECISIONS_SESSION_IDLE_MINUTES (default 30) and DECISIONS_SESSION_MAX_MINUTES (default 720)."""
        return cls(
            engine,
            clock,
            _minutes_from_env("DECISIONS_SESSION_IDLE_MINUTES", DEFAULT_IDLE),
            _minutes_from_env("DECISIONS_SESSION_MAX_MINUTES", DEFAULT_ABSOLUTE),
        )

    def start(
        self,
        person: str,
        via: str,
        token_id: str | None = None,
        claims: dict[str, Any] | None = None,
        id_token: str | None = None,
    ) -> str:
        """A new session for `person`; returns the id for the cookie (only its hash is stored)."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        with write_transaction(self.engine) as conn:
            # Rows long past any timeout are only clutter: sweep them while we are writing anyway.
            conn.execute(delete(_sessions).where(_sessions.c.created_at < now - self.absolute - timedelta(days=1)))
            conn.execute(
                insert(_sessions).values(
                    id_hash=_hash(session_id),
                    person=person,
                    via=via,
                    token_id=token_id,
                    created_at=now,
                    last_seen_at=now,
                    ended_at=None,
                    claims=json.dumps(claims, sort_keys=True) if claims is not None else None,
                    id_token=id_token,
                )
            )
        return session_id

    def lookup(self, session_id: str | None) -> LiveSession | None:
        """The live session behind a cookie's id, or None; a live one is marked as used now."""
        if not session_id or not _SESSION_ID.match(session_id):
            return None
        key = _hash(session_id)
        now = self.clock()
        with read_transaction(self.engine) as conn:
            row = conn.execute(
                select(
                    _sessions.c.person,
                    _sessions.c.via,
                    _sessions.c.token_id,
                    _sessions.c.created_at,
                    _sessions.c.last_seen_at,
                    _sessions.c.ended_at,
                    _sessions.c.claims,
                    _sessions.c.id_token,
                    _tokens.c.id.label("live_token"),
                )
                .select_from(
                    _sessions.outerjoin(
                        _tokens,
                        and_(
                            _tokens.c.id == _sessions.c.token_id,
                            _tokens.c.revoked_at.is_(None),
                            # A session lasts no longer than the token it began with.
                            or_(_tokens.c.expires_at.is_(None), _tokens.c.expires_at > now),
                        ),
                    )
                )
                .where(_sessions.c.id_hash == key)
            ).first()
        if row is None or row.ended_at is not None:
            return None
        revoked = row.token_id is not None and row.live_token is None
        if revoked or now - row.created_at >= self.absolute or now - row.last_seen_at >= self.idle:
            self._end(key, now)
            return None
        if now - row.last_seen_at >= TOUCH_EVERY:
            with write_transaction(self.engine) as conn:
                conn.execute(
                    update(_sessions)
                    .where(_sessions.c.id_hash == key, _sessions.c.ended_at.is_(None))
                    .values(last_seen_at=now)
                )
        claims = json.loads(row.claims) if row.claims else None
        return LiveSession(
            person=row.person, via=row.via, created_at=row.created_at, claims=claims, id_token=row.id_token
        )

    def end(self, session_id: str | None) -> None:
        if session_id and _SESSION_ID.match(session_id):
            self._end(_hash(session_id), self.clock())

    def end_for_person(self, person: str) -> int:
        """End every live session of `person` (their access was withdrawn); returns how many."""
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                update(_sessions)
                .where(_sessions.c.person == person, _sessions.c.ended_at.is_(None))
                .values(ended_at=self.clock())
            )
        return int(result.rowcount)

    def _end(self, key: str, now: datetime) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(_sessions).where(_sessions.c.id_hash == key, _sessions.c.ended_at.is_(None)).values(ended_at=now)
            )
