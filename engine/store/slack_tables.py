"""The Slack app's own state: where each approval request was posted, and which signatures were seen."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from engine.store.columns import JSONType, UTCDateTime


class SlackMessage(SQLModel, table=True):
    """A posted approval request: chat.update rewrites every one of a decision's when it moves."""

    __tablename__ = "slack_messages"
    __table_args__ = (UniqueConstraint("channel", "ts"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    decision_id: str = Field(sa_column=Column(String(40), nullable=False, index=True))
    #: Slack's conversation id (a DM or the fallback channel) and the message's timestamp id.
    channel: str = Field(sa_column=Column(String(40), nullable=False))
    ts: str = Field(sa_column=Column(String(40), nullable=False))
    recipient: str = Field(sa_column=Column(String(100), nullable=False))
    #: What the message shows beside the decision's row (tier name, due time, link).
    context: dict[str, Any] = Field(sa_column=Column(JSONType, nullable=False))
    posted_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class SlackSeenRequest(SQLModel, table=True):
    """Signatures of accepted interaction requests, kept past Slack's 5-minute window: a replay is refused."""

    __tablename__ = "slack_seen_requests"

    signature: str = Field(sa_column=Column(String(100), primary_key=True))
    seen_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
