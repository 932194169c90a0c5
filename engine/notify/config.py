"""Which channels are configured (from the environment)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

#: The outbox channel of the Slack app (Web API, interactive); "slack" is the incoming webhook.
SLACK_APP = "slack_app"


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
    #: A Slack app's bot token (xoxb-...): approval requests with buttons, updated in place.
    slack_bot_token: str | None = None
    #: The app's signing secret: how /slack/interactions knows a request came from Slack.
    slack_signing_secret: str | None = None
    #: The Slack Web API's base URL (a local receiver in tests).
    slack_api_url: str = "https://slack.com/api/"
    #: Where approval requests go for approvers the directory has no Slack id for.
    slack_channel: str | None = None

    @property
    def channels(self) -> tuple[str, ...]:
        found = []
        if self.webhook_url:
            found.append("webhook")
        if self.slack_url:
            found.append("slack")
        if self.smtp_host:
            found.append("email")
        if self.slack_bot_token:
            found.append(SLACK_APP)
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
            slack_bot_token=env.get("DECISIONS_SLACK_BOT_TOKEN") or None,
            slack_signing_secret=env.get("DECISIONS_SLACK_SIGNING_SECRET") or None,
            slack_api_url=env.get("DECISIONS_SLACK_API_URL") or "https://slack.com/api/",
            slack_channel=env.get("DECISIONS_SLACK_CHANNEL") or None,
        )
