"""Interaction requests exactly as Slack sends them: a form body `payload=<json>`, signed v0.

The signature is written out here from Slack's documented scheme (HMAC-SHA256 with the signing
secret over `v0:{timestamp}:{body}`), independently of the verifier the service uses.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM = {"id": "T0DECIDE1", "domain": "decisions"}


def sign(body: bytes, timestamp: int, secret: str = SECRET) -> dict[str, str]:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def form(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def button_click(user: str, action: str, decision_id: str, channel: str, ts: str, n: int = 1) -> dict[str, Any]:
    """A `block_actions` payload for a click on one of the request's buttons."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": TEAM["id"]},
        "api_app_id": "A0DECIDE1",
        "token": "legacy-verification-token-unused",
        "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
        "trigger_id": f"1337.42.trigger{n}",
        "team": TEAM,
        "channel": {"id": channel, "name": "directmessage" if channel.startswith("D") else "approvals"},
        "message": {"type": "message", "ts": ts, "text": "…"},
        "response_url": "https://hooks.slack.invalid/actions/T0DECIDE1/1/x",
        "actions": [
            {
                "action_id": action,
                "block_id": "decision",
                "text": {"type": "plain_text", "text": action.title()},
                "value": decision_id,
                "type": "button",
                "action_ts": f"1700000001.{n:06d}",
            }
        ],
    }


def modal_submission(user: str, view: dict[str, Any], reason: str) -> dict[str, Any]:
    """A `view_submission` payload for the reject modal the service opened, with `reason` typed in."""
    return {
        "type": "view_submission",
        "team": TEAM,
        "user": {"id": user, "username": user.lower(), "team_id": TEAM["id"]},
        "api_app_id": "A0DECIDE1",
        "trigger_id": "1337.42.submit",
        "view": {
            **view,
            "id": "V0000001",
            "state": {"values": {"reason": {"reason": {"type": "plain_text_input", "value": reason}}}},
        },
    }
