"""Web sessions, server-side: the browser holds a random id, the database holds what it stands for.

Every worker reads the same rows, so signing out (or revoking the token a session began with)
ends it everywhere at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String, Text
from sqlmodel import Field, SQLModel

from engine.store.columns import UTCDateTime


class WebSession(SQLModel, table=True):
    __tablename__ = "web_sessions"

    #: SHA-256 (hex) of the cookie's random id: a copy of the table opens no browser session.
    id_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    person: str = Field(sa_column=Column(String(100), nullable=False, index=True))
    #: How the person signed in: "token" (a pasted API token) or "oidc" (OpenID Connect).
    via: str = Field(sa_column=Column(String(20), nullable=False))
    #: The API token a "token" session began with: revoking it ends the session.
    token_id: str | None = Field(default=None, sa_column=Column(String(32), index=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    last_seen_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    #: An "oidc" session's verified claims (JSON): who the person is and their groups, mapped to
    #: roles again on every request under the policy in force.
    claims: str | None = Field(default=None, sa_column=Column(Text))
    #: The ID token an "oidc" session began with: the hint for signing out at the provider too.
    id_token: str | None = Field(default=None, sa_column=Column(Text))
