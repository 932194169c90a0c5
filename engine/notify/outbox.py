"""Enqueueing: inside the append transaction, so an event and its notifications commit together."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from engine.log.appender import AppendedEvent
from engine.notify.config import SLACK_APP, NotifyConfig
from engine.notify.slack_app import due_at, slack_rows, update_row
from engine.review.digest import Digest
from engine.review.render import digest_mail_html, digest_markdown
from engine.routing import approver_groups
from engine.store.db import write_transaction
from engine.store.outbox_tables import OutboxMessage
from engine.store.tables import Decision
from engine.text_safety import mrkdwn, one_line, plain_text
from engine.types import Route
from policy.compiled import Policy

_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
_decisions = Decision.__table__  # type: ignore[attr-defined]

KIND_BY_STATUS = {"approved": "approved", "rejected": "rejected"}


def _message(kind: str, decision: dict[str, Any], actor: str, config: NotifyConfig) -> dict[str, Any]:
    link = f"{config.base_url}/decisions/{decision['id']}"
    verb = {
        "routed": "needs your sign-off",
        "approved": "was approved",
        "rejected": "was rejected",
        "withdrawn": "was withdrawn",
        "overdue": "is overdue for sign-off",
        "break_glass": "went ahead under break-glass and needs your review after the fact",
        "rerouted": "was amended and needs your sign-off",
        "reminder": "still needs your sign-off",
        "escalated": "is overdue and escalated to you",
    }[kind]
    # The title is the user's: each channel gets it escaped for its own syntax (engine.text_safety).
    sentence = "Decision {id} \u201c{title}\u201d (tier {tier}) {verb}."
    text = sentence.format(id=decision["id"], title=plain_text(decision["title"]), tier=decision["tier"], verb=verb)
    slack_text = sentence.format(
        id=decision["id"], title=mrkdwn(one_line(decision["title"])), tier=decision["tier"], verb=verb
    )
    return {
        "kind": kind,
        "decision_id": decision["id"],
        "title": decision["title"],
        "tier": decision["tier"],
        "status": decision["status"],
        "actor": actor,
        "link": link,
        "text": text,
        "due_at": decision.get("due_at"),
        "slack": {
            "text": slack_text,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*{slack_text}*\n<{link}|Open the decision>"}}
            ],
        },
    }


#: Channels that post to one shared destination: one message per event, naming every recipient.
SHARED_CHANNELS = ("webhook", "slack")


def _rows(
    kind: str,
    key: str,
    recipients: Iterable[str],
    payload: dict[str, Any],
    policy: Policy,
    config: NotifyConfig,
    now: datetime,
    route: Mapping[str, Any] | None = None,
    mail_only: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The outbox rows of one message: one per shared channel, one per person with an address for e-mail.
    `mail_only` goes into the e-mail rows' payloads alone (the digest's HTML part: no webhook or Slack reads it)."""
    names = sorted(set(recipients))
    # An approval request also names the groups whose members may sign it (`identity.groups` giving a
    # route role): no e-mail reaches them, as the service knows them only once they sign in, but the
    # shared channels and the Slack channel do.
    groups = approver_groups(policy, msgspec.convert(route, Route)) if route is not None else []
    if groups:
        payload = {**payload, "approver_groups": groups}
    rows = []

    def row(recipient: str, channel: str, extra: dict[str, Any]) -> dict[str, Any]:
        return {
            "dedupe_key": f"{kind}:{key}:{recipient}:{channel}",
            "kind": kind,
            "recipient": recipient,
            "channel": channel,
            "payload": {**payload, **extra},
            "created_at": now,
            "attempts": 0,
            "next_attempt_at": now,
            "dead": False,
        }

    for channel in config.channels:
        if channel == SLACK_APP:
            continue  # the Slack app's own rows: engine.notify.slack_app
        if channel in SHARED_CHANNELS:
            # A webhook or a Slack channel is one place: one message per event, not one per person.
            if names or groups:
                rows.append(row("*", channel, {"recipients": names, "email": None}))
            continue
        for name in names:
            person = policy.people.get(name)
            if person is None or not person.email:
                continue
            rows.append(row(name, channel, {"email": person.email, **(mail_only or {})}))
    return rows + slack_rows(kind, key, names, payload, policy, config, now, groups)


#: The sweep's events (engine.reminders) and the kind of message each sends.
NUDGES = {"reminder_sent": "reminder", "decision_escalated": "escalated"}

#: Events after which every Slack message about the decision is rewritten to show where it stands.
SLACK_UPDATE_EVENTS = frozenset(
    {"approval_recorded", "decision_withdrawn", "decision_amended", "decision_proceeded", "decision_superseded"}
)


def _insert_ignoring_duplicates(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(insert(_outbox).on_conflict_do_nothing(index_elements=["dedupe_key"]), rows)


def make_outbox_hook(config: NotifyConfig) -> Callable[[Connection, list[AppendedEvent], Policy], None]:
    def hook(conn: Connection, events: list[AppendedEvent], policy: Policy) -> None:
        rows: list[dict[str, Any]] = []
        for event in events:
            data = event.data
            if SLACK_APP in config.channels and event.type in SLACK_UPDATE_EVENTS and event.decision_id:
                rows.append(update_row(event.decision_id, str(event.seq), event.at))
            if event.type == "decision_filed" and data["status"] == "pending":
                decision = {"id": event.decision_id, **data, "due_at": due_at(policy, data["tier"], event.at)}
                rows += _rows(
                    "routed",
                    str(event.seq),
                    data["route"]["approvers"],
                    _message("routed", decision, event.actor, config),
                    policy,
                    config,
                    event.at,
                    data["route"],
                )
            elif event.type in ("approval_recorded", "decision_withdrawn") and data["status"] in (
                "approved",
                "rejected",
                "withdrawn",
            ):
                row = conn.execute(
                    select(_decisions.c.title, _decisions.c.tier, _decisions.c.filed_by, _decisions.c.route).where(
                        _decisions.c.id == event.decision_id
                    )
                ).first()
                if row is None:
                    continue
                decision = {"id": event.decision_id, "title": row.title, "tier": row.tier, "status": data["status"]}
                kind = data["status"]
                recipients = [row.filed_by] if kind != "withdrawn" else row.route["approvers"]
                rows += _rows(
                    kind,
                    str(event.seq),
                    recipients,
                    _message(kind, decision, event.actor, config),
                    policy,
                    config,
                    event.at,
                )
            elif event.type in ("decision_proceeded", "decision_amended"):
                row = conn.execute(
                    select(_decisions.c.title, _decisions.c.tier, _decisions.c.created_at, _decisions.c.route).where(
                        _decisions.c.id == event.decision_id
                    )
                ).first()
                if row is None:
                    continue
                kind = "break_glass" if event.type == "decision_proceeded" else "rerouted"
                if kind == "rerouted" and data.get("status") != "pending":
                    continue
                decision = {
                    "id": event.decision_id,
                    "title": data.get("title", row.title),
                    "tier": data.get("tier", row.tier),
                    "status": data["status"],
                    "due_at": due_at(policy, data.get("tier", row.tier), row.created_at),
                }
                rows += _rows(
                    kind,
                    str(event.seq),
                    # The event carries the route it leaves behind; the read model is updated after the hooks.
                    data["approvers"] if kind == "break_glass" else data["route"]["approvers"],
                    _message(kind, decision, event.actor, config),
                    policy,
                    config,
                    event.at,
                    row.route if kind == "break_glass" else data["route"],
                )
            elif event.type in NUDGES:
                row = conn.execute(
                    select(_decisions.c.title, _decisions.c.tier, _decisions.c.status).where(
                        _decisions.c.id == event.decision_id
                    )
                ).first()
                if row is None:
                    continue
                kind = NUDGES[event.type]
                decision = {
                    "id": event.decision_id,
                    "title": row.title,
                    "tier": row.tier,
                    "status": row.status,
                    "due_at": data["due_at"],
                }
                rows += _rows(
                    kind,
                    str(event.seq),
                    data["recipients"],
                    _message(kind, decision, event.actor, config),
                    policy,
                    config,
                    event.at,
                )
        _insert_ignoring_duplicates(conn, rows)

    return hook


def enqueue_overdue(engine: Engine, policy: Policy, config: NotifyConfig, now: datetime) -> int:
    """A sweep (cron or the dispatcher): pending decisions past their tier's SLA, once per decision."""
    if not config.channels:
        return 0
    with write_transaction(engine) as conn:
        pending = conn.execute(select(_decisions).where(_decisions.c.status == "pending")).mappings().all()
        rows: list[dict[str, Any]] = []
        for d in pending:
            tier = policy.tiers.get(d["tier"])
            if tier is None or tier.sla is None or now <= d["created_at"] + tier.sla:
                continue
            decision = {
                "id": d["id"],
                "title": d["title"],
                "tier": d["tier"],
                "status": "pending",
                "due_at": due_at(policy, d["tier"], d["created_at"]),
            }
            already = {a["approver"] for a in d["approvals"]}
            recipients = [n for n in d["route"]["approvers"] if n not in already]
            rows += _rows(
                "overdue",
                d["id"],
                recipients,
                _message("overdue", decision, "system", config),
                policy,
                config,
                now,
                d["route"],
            )
        _insert_ignoring_duplicates(conn, rows)
    return len(rows)


def digest_slack(digest: Digest, link: str) -> dict[str, Any]:
    """The digest for Slack: a Block Kit summary of figures (no user text) and a link to the whole digest."""
    window = f"{digest.window_start.isoformat()} to {digest.window_last_day.isoformat()}"
    title = f"Review digest: {digest.title or digest.cadence}, {window}"
    rate = digest.comparison.escalation_rate
    tiers = ", ".join(f"tier {k}: {v}" for k, v in digest.by_tier.items()) or "none"
    figures = [
        ("Filed", f"{digest.filed} (previous window {digest.comparison.previous_filed})"),
        ("By tier", tiers),
        ("Escalation rate", "n/a" if rate is None else f"{rate * 100:.1f}%"),
        ("Still waiting", f"{len(digest.pending)}, overdue {digest.overdue}"),
        ("Break-glass awaiting review", str(len(digest.break_glass))),
        ("Window", "closed" if digest.closed else "open"),
    ]
    return {
        "text": title,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{mrkdwn(v)}"} for k, v in figures]},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"<{link}|Open the full digest>"}},
        ],
    }


def enqueue_digest(
    engine: Engine,
    policy: Policy,
    config: NotifyConfig,
    digest: Digest,
    kind: str,
    recipients: list[str],
    now: datetime,
    *,
    words: Policy,
) -> int:
    """Queue a digest: to each recipient an e-mail (the Markdown as its text, the digest as HTML beside it),
    the Markdown once to the webhook, a summary to Slack.

    `policy` is the directory now: who is written to, at which address. `words` is the policy the digest was
    made under (`Reviews.policy_of`), whose names for people and categories its text uses: a closed window's
    mail reads the same, byte for byte, however long after the close it is sent and whatever was renamed since.
    Both parts are rendered here, once, and stored in the row: every attempt at delivering it sends what the
    first did, whatever was filed or renamed between attempts."""
    label = f"{digest.cadence}:{digest.window_start.isoformat()}"
    link = f"{config.base_url}/digests/{kind}?date={digest.window_start.isoformat()}"
    payload = {
        "kind": "digest",
        "window": label,
        "link": link,
        "text": digest_markdown(digest, words),
        "slack": digest_slack(digest, link),
    }
    html = digest_mail_html(digest, words, link=link, base_url=config.base_url)
    with write_transaction(engine) as conn:
        rows = _rows("digest", label, recipients, payload, policy, config, now, mail_only={"html": html})
        _insert_ignoring_duplicates(conn, rows)
    return len(rows)
