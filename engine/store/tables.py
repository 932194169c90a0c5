"""SQLModel table definitions: the log, its head, the decisions read model, tokens, keys, versions.

Only this module and `engine.store.mapping` know these classes; nothing above the
store sees a row object.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Column, Date, Index, Integer, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from engine.store.columns import JSONType, UTCDateTime

# Batch migrations on SQLite need named constraints.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: The open statuses as the partial index states them (and engine.queries.OPEN_SQL renders them).
OPEN_STATUSES_SQL = "status IN ('pending', 'proceeded_pending_review')"
#: Open decisions with a break-glass reason, as the partial index `ix_decisions_break_glass` states them.
BREAK_GLASS_OPEN_SQL = f"break_glass_reason IS NOT NULL AND {OPEN_STATUSES_SQL}"


class Event(SQLModel, table=True):
    """One log entry. `body` holds the canonical bytes verbatim; the rest are query columns."""

    __tablename__ = "events"

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    leaf_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    prev_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    decision_id: str | None = Field(default=None, sa_column=Column(String(40), index=True))
    type: str = Field(sa_column=Column(String(40), nullable=False, index=True))
    actor: str = Field(sa_column=Column(String(100), nullable=False))
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))


class LogHead(SQLModel, table=True):
    """The one-row chain head: locked by every append, so appends are serialised."""

    __tablename__ = "log_head"

    id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    #: The log's origin name, fixed by the first append; every body carries it.
    origin: str | None = Field(default=None, sa_column=Column(String(200)))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    head_hash: str = Field(sa_column=Column(String(64), nullable=False))
    #: RFC 6962 compact range: hex roots of the perfect subtrees covering [0, size).
    frontier: list[str] = Field(sa_column=Column(JSONType, nullable=False))
    #: The active policy version (the last `policy_activated` event's); workers compare theirs to it.
    policy_version: str | None = Field(default=None, sa_column=Column(String(64)))


class Decision(SQLModel, table=True):
    """Read model: the current state of each decision, a fold over its events.

    Indexes (migration 0013_read_indexes): every list filter as (column, filed_seq), so a filtered
    page walks the filing order; `ix_decisions_open` holds only the open decisions, for the inbox;
    `ix_decisions_open_tier` (0019_inbox_tier) the same by tier, for the inbox sorted by tier.
    """

    __tablename__ = "decisions"
    __table_args__ = (
        *(Index(f"ix_decisions_{c}_seq", c, "filed_seq") for c in ("category", "filed_by", "squad", "status", "tier")),
        Index(
            "ix_decisions_open",
            "filed_seq",
            "tier",
            "filed_by",
            "created_at",
            # 0023_changed_since: a closed window's digest asks which open decisions changed since its end.
            "last_seq",
            sqlite_where=text(OPEN_STATUSES_SQL),
            postgresql_where=text(OPEN_STATUSES_SQL),
        ),
        Index(
            "ix_decisions_open_tier",
            "tier",
            "filed_seq",
            "filed_by",
            "created_at",
            sqlite_where=text(OPEN_STATUSES_SQL),
            postgresql_where=text(OPEN_STATUSES_SQL),
        ),
        # 0023_changed_since: which decisions decided since a window's end were filed before it, changed since.
        Index("ix_decisions_decided_at", "decided_at", "created_at", "last_seq"),
        # Migration 0020_digest_indexes: what the digest and the escalation metrics count and list.
        Index("ix_decisions_created_tier", "created_at", "tier", "amendments"),
        Index(
            "ix_decisions_break_glass",
            "filed_seq",
            sqlite_where=text(BREAK_GLASS_OPEN_SQL),
            postgresql_where=text(BREAK_GLASS_OPEN_SQL),
        ),
    )

    id: str = Field(sa_column=Column(String(40), primary_key=True))
    filed_seq: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    last_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    title: str = Field(sa_column=Column(String(200), nullable=False))
    category: str = Field(sa_column=Column(String(100), nullable=False))
    attributes: dict[str, Any] = Field(sa_column=Column(JSONType, nullable=False))
    rationale: str | None = Field(default=None, sa_column=Column(Text))
    client: str | None = Field(default=None, sa_column=Column(String(100)))
    links: list[str] = Field(sa_column=Column(JSONType, nullable=False))
    filed_by: str = Field(sa_column=Column(String(100), nullable=False))
    squad: str | None = Field(default=None, sa_column=Column(String(100)))
    tier: int = Field(sa_column=Column(Integer, nullable=False))
    base_tier: int = Field(sa_column=Column(Integer, nullable=False))
    status: str = Field(sa_column=Column(String(32), nullable=False))
    route: dict[str, Any] = Field(sa_column=Column(JSONType, nullable=False))
    matched_rules: list[dict[str, Any]] = Field(sa_column=Column(JSONType, nullable=False))
    known_category: bool = Field(nullable=False)
    approvals: list[dict[str, Any]] = Field(sa_column=Column(JSONType, nullable=False))
    policy_version: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    supersedes: str | None = Field(default=None, sa_column=Column(String(40)))
    superseded_by: str | None = Field(default=None, sa_column=Column(String(40)))
    break_glass_reason: str | None = Field(default=None, sa_column=Column(Text))
    amendments: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))


class DecisionCount(SQLModel, table=True):
    """How many decisions stand at each (tier, status): kept by triggers on `decisions` (engine.store.counts)."""

    __tablename__ = "decision_counts"

    tier: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    status: str = Field(sa_column=Column(String(32), primary_key=True))
    n: int = Field(sa_column=Column(BigInteger, nullable=False))


class DecisionDay(SQLModel, table=True):
    """How many decisions were filed on each UTC day at each (current) tier: kept by triggers on `decisions`
    (engine.store.counts), so a count over months reads a row per day, not one per decision."""

    __tablename__ = "decision_days"

    day: date = Field(sa_column=Column(Date, primary_key=True))
    tier: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    n: int = Field(sa_column=Column(BigInteger, nullable=False))


class Delegation(SQLModel, table=True):
    """Read model of delegation events: who may sign in whose place, for which role, when."""

    __tablename__ = "delegations"

    id: str = Field(sa_column=Column(String(40), primary_key=True))
    delegator: str = Field(sa_column=Column(String(100), nullable=False, index=True))
    delegate: str = Field(sa_column=Column(String(100), nullable=False, index=True))
    role: str = Field(sa_column=Column(String(40), nullable=False))
    starts_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    ends_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    granted_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    revoked_seq: int | None = Field(default=None, sa_column=Column(BigInteger))


class ApiToken(SQLModel, table=True):
    """Bearer tokens: only the SHA-256 of the secret part is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint("scope IN ('read', 'full')", name="scope_known"),)

    id: str = Field(sa_column=Column(String(32), primary_key=True))
    person: str = Field(sa_column=Column(String(100), nullable=False, index=True))
    secret_hash: str = Field(sa_column=Column(String(64), nullable=False))
    label: str | None = Field(default=None, sa_column=Column(String(200)))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    #: None: never expires.
    expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    #: Written at most once a minute per token and process (engine.identity), so never exact to the second.
    last_used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    #: `full` (what the person may do) or `read` (GET routes and classify only): engine.identity.
    scope: str = Field(default="full", sa_column=Column(String(10), nullable=False, server_default="full"))


class IdempotencyKey(SQLModel, table=True):
    """A filing's Idempotency-Key, scoped to the person, with the hash of the request it named."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("actor", "key", name="uq_idempotency_keys_actor_key"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    actor: str = Field(sa_column=Column(String(100), nullable=False))
    key: str = Field(sa_column=Column(String(200), nullable=False))
    request_hash: str = Field(sa_column=Column(String(64), nullable=False))
    decision_id: str = Field(sa_column=Column(String(40), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class PolicyVersion(SQLModel, table=True):
    """Every policy version the service has run, with the file's content."""

    __tablename__ = "policy_versions"

    version: str = Field(sa_column=Column(String(64), primary_key=True))
    source: str = Field(sa_column=Column(String(500), nullable=False))
    content: str = Field(sa_column=Column(Text, nullable=False))
    first_seen_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    activated_seq: int | None = Field(default=None, sa_column=Column(BigInteger))


class Checkpoint(SQLModel, table=True):
    """Signed checkpoints (C2SP signed notes), append-only like the log."""

    __tablename__ = "checkpoints"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    size: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    root_hash: str = Field(sa_column=Column(String(64), nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    #: Hex Merkle frontier of the signed tree (O(log n)): the next checkpoint proves it extends this one
    #: by reading only the leaves after it. Checked against the signed root before use.
    frontier: list[str] | None = Field(default=None, sa_column=Column(JSONType))


ALL_TABLES = [Event, LogHead, Decision, DecisionCount, DecisionDay, ApiToken, IdempotencyKey, PolicyVersion, Checkpoint]

import engine.store.baseline_tables  # noqa: E402  (registers the baseline table with the metadata)
import engine.store.outbox_tables  # noqa: E402  (registers the outbox table with the metadata)
import engine.store.session_tables  # noqa: E402  (registers the web_sessions table with the metadata)
import engine.store.slack_tables  # noqa: E402  (the Slack app's tables)
import engine.store.verification_tables  # noqa: E402,F401  (stored verification and audit results)
