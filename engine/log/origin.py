"""The log's origin: the name in every event body and on the first line of every checkpoint.

C2SP tlog-checkpoint recommends a schema-less URL (`example.com/decisions`), unique to the log.
DECISIONS_LOG_ORIGIN names it outright; else it is derived from DECISIONS_BASE_URL (the address
people reach the service at); else `localhost/decisions`. A log that already has events keeps the
origin its first event carries, whatever the environment says now: a new name would make every
later event belong to another log and break the chain.
"""

from __future__ import annotations

import logging
import os
from urllib.parse import urlsplit

import msgspec
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from engine.store.db import read_transaction
from engine.store.tables import Event

log = logging.getLogger(__name__)
_events = Event.__table__  # type: ignore[attr-defined]

DEFAULT_ORIGIN = "localhost/decisions"


def origin_from_base_url(base_url: str) -> str | None:
    """`https://gov.example.com` gives `gov.example.com/decisions`; `https://example.com/r`, `example.com/r`."""
    parts = urlsplit(base_url.strip() if "://" in base_url else "//" + base_url.strip())
    host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    if not host:
        return None
    path = parts.path.rstrip("/")
    # No spaces and no '+' in an origin (the signed-note grammar); the key name is the origin too.
    origin = f"{host}{path}" if path else f"{host}/decisions"
    return origin if not any(c.isspace() or c == "+" for c in origin) else None


def configured_origin() -> str:
    explicit = os.environ.get("DECISIONS_LOG_ORIGIN")
    if explicit:
        return explicit
    base = os.environ.get("DECISIONS_BASE_URL")
    return (origin_from_base_url(base) if base else None) or DEFAULT_ORIGIN


def stored_origin(engine: Engine) -> str | None:
    """The origin the log's first event carries; None for an empty log (or a database not migrated yet)."""
    try:
        with read_transaction(engine) as conn:
            body = conn.execute(select(_events.c.body).where(_events.c.seq == 0)).scalar()
    except SQLAlchemyError:
        return None
    if body is None:
        return None
    origin = msgspec.json.decode(body).get("log")
    return origin if isinstance(origin, str) else None


def resolve_origin(engine: Engine, wanted: str | None = None) -> str:
    """The existing log's origin when it has events, else `wanted` or the configured one."""
    configured = wanted or configured_origin()
    existing = stored_origin(engine)
    if existing is None:
        return configured
    if existing != configured and (wanted or os.environ.get("DECISIONS_LOG_ORIGIN")):
        log.warning("the log is named %r; keeping that name, not %r", existing, configured)
    return existing
