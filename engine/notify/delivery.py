"""Delivery: claim due rows with a lease, send, mark; retry with exponential back-off and jitter.

At-least-once transport, exactly-once effect: every attempt of a row carries the same
key (`Idempotency-Key: outbox-<id>`, `Message-ID: <outbox-<id>@decision-rights>`), so a
receiver that saw a send whose acknowledgement was lost (a crash between send and
mark) recognises the repeat.
"""

from __future__ import annotations

import json
import random
import smtplib
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update

from engine.notify import slack_app
from engine.notify.config import SLACK_APP, NotifyConfig
from engine.store.db import write_transaction
from engine.store.outbox_tables import OutboxMessage

_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]

LEASE = timedelta(seconds=60)
MAX_BACKOFF = timedelta(hours=1)
SEND_TIMEOUT = 10.0


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """2^attempts seconds (capped at an hour), with up to 20% jitter so retries do not stampede."""
    base = min(2.0**attempts, MAX_BACKOFF.total_seconds())
    jitter = (rng or random).uniform(0, base * 0.2)
    return timedelta(seconds=base + jitter)


def _claim(engine: Engine, now: datetime, batch: int) -> list[dict[str, Any]]:
    due = and_(
        _outbox.c.delivered_at.is_(None),
        _outbox.c.dead.is_(False),
        _outbox.c.next_attempt_at <= now,
        or_(_outbox.c.lease_until.is_(None), _outbox.c.lease_until < now),
    )
    with write_transaction(engine) as conn:
        query = select(_outbox).where(due).order_by(_outbox.c.id).limit(batch)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = [dict(r) for r in conn.execute(query).mappings()]
        if rows:
            conn.execute(
                update(_outbox).where(_outbox.c.id.in_([r["id"] for r in rows])).values(lease_until=now + LEASE)
            )
    return rows


def _send(row: dict[str, Any], config: NotifyConfig) -> None:
    key = f"outbox-{row['id']}"
    payload = row["payload"]
    if row["channel"] in ("webhook", "slack"):
        url = config.webhook_url if row["channel"] == "webhook" else config.slack_url
        body = (
            payload["slack"]
            if row["channel"] == "slack"
            else {k: v for k, v in payload.items() if k not in ("slack", "email", "html")} | {"id": key}
        )
        request = urllib.request.Request(
            str(url),
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Idempotency-Key": key},
        )
        with urllib.request.urlopen(request, timeout=SEND_TIMEOUT) as response:
            response.read()
        return
    message = EmailMessage()
    message["From"] = config.smtp_from
    message["To"] = payload["email"]
    # A header is one line: a digest's text is many, and a newline in a header is refused outright.
    first_line = (payload.get("text") or "decision-rights").strip().splitlines()[0].lstrip("# ")
    message["Subject"] = first_line[:150]
    message["Message-ID"] = f"<{key}@decision-rights>"
    message.set_content(f"{payload.get('text', '')}\n\n{payload.get('link', '')}\n")
    if payload.get("html"):
        # multipart/alternative: the text above, unchanged, first; the HTML the row was queued with last, the
        # one a mail program shows if it can. A row queued before there was HTML (or any other kind) is text only.
        message.add_alternative(payload["html"], subtype="html")
    with smtplib.SMTP(str(config.smtp_host), config.smtp_port, timeout=SEND_TIMEOUT) as smtp:
        smtp.send_message(message)


def deliver_due(
    engine: Engine,
    config: NotifyConfig,
    now: datetime,
    *,
    batch: int = 50,
    sender: Callable[[dict[str, Any], NotifyConfig], None] = _send,
) -> DeliveryReport:
    report = DeliveryReport()
    for row in _claim(engine, now, batch):
        try:
            if row["channel"] == SLACK_APP:
                # The Slack app reads the decision as it is now, and records where it posted.
                slack_app.send(row, config, engine, now)
            else:
                sender(row, config)
        except Exception as exc:  # any failure is a failed attempt with back-off, never a dead delivery loop
            attempts = row["attempts"] + 1
            dead = attempts >= config.max_attempts
            with write_transaction(engine) as conn:
                conn.execute(
                    update(_outbox)
                    .where(_outbox.c.id == row["id"])
                    .values(
                        attempts=attempts,
                        next_attempt_at=now + backoff(attempts),
                        lease_until=None,
                        last_error=f"{type(exc).__name__}: {exc}"[:2000],
                        dead=dead,
                    )
                )
            report.failed += 1
            report.dead += dead
            report.errors.append(f"{row['channel']} to {row['recipient']}: {exc}")
            continue
        with write_transaction(engine) as conn:
            conn.execute(
                update(_outbox)
                .where(_outbox.c.id == row["id"])
                .values(delivered_at=now, attempts=row["attempts"] + 1, lease_until=None, last_error=None)
            )
        report.delivered += 1
    return report


def run_dispatcher(
    engine: Engine,
    config: NotifyConfig,
    clock: Callable[[], datetime],
    stop: threading.Event,
    interval: float = 2.0,
    sweep: Callable[[datetime], Any] | None = None,
) -> None:
    """In-process delivery loop (DECISIONS_NOTIFY=1): never on the filing path."""
    while not stop.is_set():
        now = clock()
        if sweep is not None:
            sweep(now)
        deliver_due(engine, config, now)
        stop.wait(interval)
