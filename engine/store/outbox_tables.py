"""The notification outbox: rows written in the same transaction as the events they announce."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, Integer, String, Text
from sqlmodel import Field, SQLModel

from engine.store.columns import JSONType, UTCDateTime


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    #: What makes a notification unique (kind, event or decision, recipient, channel): enqueued once.
    dedupe_key: str = Field(sa_column=Column(String(300), nullable=False, unique=True))
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    recipient: str = Field(sa_column=Column(String(100), nullable=False))
    channel: str = Field(sa_column=Column(String(20), nullable=False))
    payload: dict[str, Any] = Field(sa_column=Column(JSONType, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    #: A worker's claim: nobody else sends this row before then.
    lease_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, index=True))
    #: Given up after too many attempts: kept, visible, never deleted.
    dead: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
