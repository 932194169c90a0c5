"""The Slack app's side of the outbox: approval requests posted with buttons, and kept up to date.

Rows are enqueued with the events (engine.notify.outbox); delivery renders each message from the
decision as it is when it is sent, so a late message never offers buttons on a closed decision,
and records where it was posted so every later change rewrites all of them (chat.update).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import Engine, insert, select

from engine.log.canonical import format_at
from engine.notify.config import SLACK_APP, NotifyConfig
from engine.notify.slack_blocks import APPROVE, REJECT, approval_request, is_open, notice
from engine.notify.slack_text import mrkdwn
from engine.store.db import read_transaction, write_transaction
from engine.store.slack_tables import SlackMessage
from engine.store.tables import Decision
from policy.compiled import Policy

_messages = SlackMessage.__table__  # type: ignore[attr-defined]
_decisions = Decision.__table__  # type: ignore[attr-defined]

#: Kinds that ask the approvers to act: they carry the buttons.
REQUEST_KINDS = frozenset({"routed", "rerouted", "break_glass", "overdue", "reminder", "escalated"})
#: Kinds that tell the filer how it ended (a withdrawal shows in the approvers' updated messages).
OUTCOME_KINDS = frozenset({"approved", "rejected"})
#: One row per event that changes a decision: rewrites every message already posted about it.
UPDATE_KIND = "slack_update"

LEADS = {
    "rerouted": ":pencil2: Amended: it needs your sign-off again.",
    "break_glass": ":rotating_light: The filer went ahead under break-glass: ratify or reject it after the fact.",
    "overdue": ":hourglass: Overdue: the sign-off time has passed.",
    "escalated": ":arrow_up: Escalated to you: nobody signed off before the due time.",
    "reminder": ":alarm_clock: Reminder: this still needs your sign-off.",
}


def web_client(config: NotifyConfig) -> WebClient:
    base = config.slack_api_url if config.slack_api_url.endswith("/") else config.slack_api_url + "/"
    return WebClient(token=config.slack_bot_token, base_url=base, timeout=10)


def slack_rows(
    kind: str,
    key: str,
    recipients: Iterable[str],
    payload: Mapping[str, Any],
    policy: Policy,
    config: NotifyConfig,
    now: datetime,
    groups: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Outbox rows for the Slack app: a DM per person it knows, one channel post for everyone else,
    members of approver `groups` included (the service learns who they are only when they sign in)."""
    if SLACK_APP not in config.channels or "decision_id" not in payload:
        return []
    if kind not in REQUEST_KINDS and kind not in OUTCOME_KINDS:
        return []
    tier = policy.tiers.get(payload["tier"])
    base = {
        "decision_id": payload["decision_id"],
        "kind": kind,
        "tier_name": tier.name if tier is not None else f"tier {payload['tier']}",
        "due_at": payload.get("due_at"),
        "link": payload["link"],
        "lead": payload.get("lead") or LEADS.get(kind),
    }
    targets: dict[str, str] = {}
    for name in sorted(set(recipients)):
        person = policy.people.get(name)
        if person is not None and person.slack:
            targets[name] = person.slack
        elif kind in REQUEST_KINDS and config.slack_channel:
            # One post in the channel stands for every approver Slack does not know.
            targets["#" + config.slack_channel] = config.slack_channel
    if groups and kind in REQUEST_KINDS and config.slack_channel:
        targets["#" + config.slack_channel] = config.slack_channel
    return [
        _row(f"{kind}:{key}:{recipient}:{SLACK_APP}", kind, recipient, {**base, "channel": channel}, now)
        for recipient, channel in targets.items()
    ]


def update_row(decision_id: str, key: str, now: datetime) -> dict[str, Any]:
    return _row(f"{UPDATE_KIND}:{key}", UPDATE_KIND, decision_id, {"decision_id": decision_id}, now)


def _row(dedupe_key: str, kind: str, recipient: str, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "dedupe_key": dedupe_key,
        "kind": kind,
        "recipient": recipient,
        "channel": SLACK_APP,
        "payload": payload,
        "created_at": now,
        "attempts": 0,
        "next_attempt_at": now,
        "dead": False,
    }


def due_at(policy: Policy, tier: int, created_at: datetime) -> str | None:
    spec = policy.tiers.get(tier)
    return format_at(created_at + spec.sla) if spec is not None and spec.sla is not None else None


def decision_row(engine: Engine, decision_id: str) -> dict[str, Any] | None:
    with read_transaction(engine) as conn:
        row = conn.execute(select(_decisions).where(_decisions.c.id == decision_id)).mappings().first()
    return dict(row) if row is not None else None


def render(decision: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    message = approval_request(decision, context["tier_name"], context.get("due_at"), context["link"])
    lead = context.get("lead")
    if context.get("kind") == "escalated":
        # Shown for awareness: signing it is for the rules to allow, so no buttons that would only refuse.
        for block in message["blocks"]:
            if block["type"] == "actions":
                block["elements"] = [e for e in block["elements"] if e["action_id"] not in (APPROVE, REJECT)]
    if lead and is_open(decision):
        message["blocks"].insert(0, {"type": "context", "elements": [{"type": "mrkdwn", "text": lead}]})
    return message


def send(row: Mapping[str, Any], config: NotifyConfig, engine: Engine, now: datetime) -> None:
    """Deliver one outbox row of the Slack app (raises on failure: the outbox retries)."""
    payload = row["payload"]
    decision = decision_row(engine, payload["decision_id"])
    if decision is None:
        return
    client = web_client(config)
    if row["kind"] == UPDATE_KIND:
        refresh(engine, client, decision)
        return
    if row["kind"] in OUTCOME_KINDS:
        outcome = {"approved": "was approved", "rejected": "was rejected"}[row["kind"]]
        text = f"Your decision {decision['id']} \u201c{mrkdwn(decision['title'])}\u201d {outcome}."
        client.chat_postMessage(channel=payload["channel"], **notice(text, payload["link"]))
        return
    if not is_open(decision):
        return  # nothing left to ask: the message would only be noise
    outbox_id = row.get("id")
    context = {k: payload.get(k) for k in ("tier_name", "due_at", "link", "lead", "kind")} | {"outbox_id": outbox_id}
    if outbox_id is not None and _posted_for(engine, decision["id"], outbox_id):
        return  # posted and recorded before a crash kept the row from being marked delivered
    response = client.chat_postMessage(channel=payload["channel"], **render(decision, context))
    with write_transaction(engine) as conn:
        conn.execute(
            insert(_messages).values(
                decision_id=decision["id"],
                channel=response["channel"],
                ts=response["ts"],
                recipient=row["recipient"],
                context=context,
                posted_at=now,
            )
        )


def _posted_for(engine: Engine, decision_id: str, outbox_id: int) -> bool:
    with read_transaction(engine) as conn:
        rows = conn.execute(select(_messages.c.context).where(_messages.c.decision_id == decision_id)).all()
    return any(r.context.get("outbox_id") == outbox_id for r in rows)


def refresh(engine: Engine, client: WebClient, decision: Mapping[str, Any]) -> int:
    """Rewrite every posted request about `decision` to show where it stands (for everyone who got one)."""
    with read_transaction(engine) as conn:
        posted = conn.execute(
            select(_messages.c.channel, _messages.c.ts, _messages.c.context)
            .where(_messages.c.decision_id == decision["id"])
            .order_by(_messages.c.id)
        ).all()
    for message in posted:
        client.chat_update(channel=message.channel, ts=message.ts, **render(decision, message.context))
    return len(posted)
