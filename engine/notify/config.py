"""Which channels are configured (from the environment)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    webhook_url: str | None = None
    slack_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "decision-rights@localhost"
    #: Base URL of the web pages, for links in messages.
    base_url: str = "http://127.0.0.1:8000"
    max_attempts: int = 12

    @property
    def channels(self) -> tuple[str, ...]:
        found = []
        if self.webhook_url:
            found.append("webhook")
        if self.slack_url:
            found.append("slack")
        if self.smtp_host:
            found.append("email")
        return tuple(found)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> NotifyConfig:
        env = os.environ if env is None else env
        return cls(
            webhook_url=env.get("DECISIONS_WEBHOOK_URL") or None,
            slack_url=env.get("DECISIONS_SLACK_URL") or None,
            smtp_host=env.get("DECISIONS_SMTP_HOST") or None,
            smtp_port=int(env.get("DECISIONS_SMTP_PORT") or 25),
            smtp_from=env.get("DECISIONS_SMTP_FROM") or "decision-rights@localhost",
            base_url=env.get("DECISIONS_BASE_URL") or "http://127.0.0.1:8000",
        )
