"""Results of log verifications (full, incremental) and replay audits, kept so that reading them is free.

A full verification of a million events takes seconds of CPU; the audit page and the API show the
latest stored result and check only the events after it. An ok chain result keeps the Merkle
frontier of the prefix it verified: the next incremental check extends it instead of re-reading
the history. Rows are evidence about the log, not part of it: a forged row must never make a bad
log pass, so the incremental check re-anchors a stored frontier on a signed checkpoint
(engine/log/incremental.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from engine.store.columns import JSONType, UTCDateTime


class LogVerification(SQLModel, table=True):
    __tablename__ = "log_verifications"
    #: "The latest ok result of a kind, by log size" is the one question asked of this table.
    __table_args__ = (Index("ix_log_verifications_kind_size", "kind", "size"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    #: "full", "incremental" or "audit".
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    #: Events covered: the log's size when ok; up to the first bad event otherwise.
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    #: For an incremental check, the size of the stored prefix it extended (events before it were not re-read).
    base_size: int | None = Field(default=None, sa_column=Column(BigInteger))
    #: Hex RFC 6962 root and head leaf hash of the verified prefix (none for an audit).
    root_hash: str | None = Field(default=None, sa_column=Column(String(64)))
    head_hash: str | None = Field(default=None, sa_column=Column(String(64)))
    ok: bool = Field(sa_column=Column(Boolean, nullable=False))
    first_bad_seq: int | None = Field(default=None, sa_column=Column(BigInteger))
    reason: str | None = Field(default=None, sa_column=Column(Text))
    #: Hex roots of the perfect subtrees covering [0, size), leftmost first (O(log n)); ok chain results only.
    frontier: list[str] | None = Field(default=None, sa_column=Column(JSONType))
    started_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    finished_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
