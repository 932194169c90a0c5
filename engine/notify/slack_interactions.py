"""Slack interactions (buttons, the reject modal): verified, mapped to a person, decided by the rules.

Nothing here decides who may approve: a click becomes the same `service.decide(person, id,
VerdictRequest(...))` call the API makes, and a refusal is shown to the clicker word for word.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from slack_sdk import WebClient
from slack_sdk.signature import Clock, SignatureVerifier
from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError

from engine.errors import DomainError
from engine.notify.config import NotifyConfig
from engine.notify.slack_app import decision_row, refresh, web_client
from engine.notify.slack_blocks import (
    APPROVE,
    REASON_BLOCK,
    REASON_INPUT,
    REJECT,
    REJECT_MODAL,
    is_open,
    reject_modal,
    status_note,
)
from engine.notify.slack_text import mrkdwn
from engine.store.db import write_transaction
from engine.store.slack_tables import SlackSeenRequest
from engine.types import VerdictRequest
from policy.compiled import Person

log = logging.getLogger("decisions.slack")

_seen = SlackSeenRequest.__table__  # type: ignore[attr-defined]

#: Slack's window for a request's timestamp; signatures are remembered a while longer.
WINDOW = timedelta(minutes=5)
REMEMBER = timedelta(minutes=10)


class Refused(Exception):
    """A request that is not (or no longer) Slack's: answered 401, logged."""


@dataclass(frozen=True)
class Reply:
    """What to answer Slack: 200 with this JSON body (None: an empty 200)."""

    body: dict[str, Any] | None = None


class _ServiceClock(Clock):
    """The verifier's idea of now is the service's clock (frozen in tests)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock().timestamp()


class SlackInteractions:
    def __init__(self, service: Any, policies: Any, config: NotifyConfig) -> None:
        if not config.slack_signing_secret:
            raise ValueError("the Slack app needs DECISIONS_SLACK_SIGNING_SECRET")
        self.service = service
        self.policies = policies
        self.config = config
        self.verifier = SignatureVerifier(config.slack_signing_secret, clock=_ServiceClock(service.clock))

    @property
    def client(self) -> WebClient:
        return web_client(self.config)

    # -- the request --------------------------------------------------------------------------------

    def verify(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Raise Refused unless Slack signed exactly this body within the window, for the first time."""
        timestamp = headers.get("x-slack-request-timestamp")
        signature = headers.get("x-slack-signature")
        if not timestamp or not signature:
            raise Refused("unsigned: no X-Slack-Signature or X-Slack-Request-Timestamp")
        if not timestamp.isdigit():
            raise Refused("the request timestamp is not a number")
        if not self.verifier.is_valid(body, timestamp, signature):
            age = self.service.clock().timestamp() - int(timestamp)
            if abs(age) > WINDOW.total_seconds():
                raise Refused(f"stale: signed {int(age)} s ago, outside Slack's 5-minute window")
            raise Refused("the signature does not match the body and the signing secret")
        now = self.service.clock()
        try:
            with write_transaction(self.service.engine) as conn:
                conn.execute(delete(_seen).where(_seen.c.seen_at < now - REMEMBER))
                conn.execute(insert(_seen).values(signature=signature[:100], seen_at=now))
        except IntegrityError:
            raise Refused("replayed: this signature was already used") from None

    def handle(self, body: bytes) -> Reply:
        form = parse_qs(body.decode("utf-8", "replace"))
        try:
            payload = json.loads(form["payload"][0])
        except (KeyError, IndexError, ValueError):
            return Reply()  # signed by Slack but not an interaction we know: nothing to do
        kind = payload.get("type")
        if kind == "block_actions":
            self._action(payload)
            return Reply()
        if kind == "view_submission" and payload.get("view", {}).get("callback_id") == REJECT_MODAL:
            return self._rejection(payload)
        return Reply()

    # -- what the person did --------------------------------------------------------------------------

    def person_of(self, user_id: str) -> Person | None:
        return next((p for p in self.policies.current.people.values() if p.slack and p.slack == user_id), None)

    def _tell(self, payload: Mapping[str, Any], text: str) -> None:
        """An ephemeral reply only the clicker sees, where they clicked."""
        channel = (payload.get("channel") or {}).get("id") or (payload.get("container") or {}).get("channel_id")
        user = payload["user"]["id"]
        if channel:
            self.client.chat_postEphemeral(channel=channel, user=user, text=text)

    def _action(self, payload: Mapping[str, Any]) -> None:
        actions = payload.get("actions") or []
        if not actions or actions[0].get("action_id") not in (APPROVE, REJECT):
            return  # the link button: Slack opens the page itself
        action = actions[0]
        decision_id = str(action.get("value", ""))
        user_id = payload["user"]["id"]
        person = self.person_of(user_id)
        if person is None:
            log.warning("slack: click by %s, who is not in the directory", user_id)
            self._tell(payload, "Your Slack account is not linked to anyone in the decision-rights directory.")
            return
        decision = decision_row(self.service.engine, decision_id)
        if decision is None:
            self._tell(payload, f"There is no decision {mrkdwn(decision_id)}.")
            return
        if action["action_id"] == REJECT:
            if not is_open(decision):
                self._tell(payload, status_note(decision))
                return
            origin = {
                "channel": (payload.get("channel") or {}).get("id", ""),
                "ts": (payload.get("message") or {}).get("ts", ""),
            }
            self.client.views_open(trigger_id=payload["trigger_id"], view=reject_modal(decision, origin))
            return
        refusal = self._decide(person, decision_id, VerdictRequest(verdict="approve"))
        if refusal is not None:
            self._tell(payload, refusal[0])

    def _rejection(self, payload: Mapping[str, Any]) -> Reply:
        view = payload["view"]
        person = self.person_of(payload["user"]["id"])
        if person is None:
            return _field_error("Your Slack account is not linked to anyone in the decision-rights directory.")
        try:
            decision_id = json.loads(view.get("private_metadata") or "{}")["decision_id"]
            reason = view["state"]["values"][REASON_BLOCK][REASON_INPUT]["value"] or ""
        except (KeyError, TypeError, ValueError):
            return _field_error("This form is not one the service sent; reject from the decision's page.")
        refusal = self._decide(person, decision_id, VerdictRequest(verdict="reject", reason=reason))
        return _field_error(refusal[1]) if refusal is not None else Reply()

    def _decide(self, person: Person, decision_id: str, request: VerdictRequest) -> tuple[str, str] | None:
        """The verdict through the service (the rules); None on success, else the words to show
        (as mrkdwn for a message, as plain text for a modal)."""
        try:
            self.service.decide(person, decision_id, request, channel="slack")
        except DomainError as exc:
            decision = decision_row(self.service.engine, decision_id)
            if decision is not None and not is_open(decision):
                # A second click: say what already happened rather than why it cannot happen again.
                return status_note(decision), f"Decision {decision_id} is already {decision['status']}."
            return mrkdwn(str(exc)), str(exc)
        decision = decision_row(self.service.engine, decision_id)
        if decision is not None:
            # The outbox will do this too; doing it now shows the clicker the outcome at once.
            try:
                refresh(self.service.engine, self.client, decision)
            except Exception as exc:  # the verdict stands; the outbox retries the update
                log.warning("slack: updating the messages of %s failed: %s", decision_id, exc)
        return None


def _field_error(text: str) -> Reply:
    return Reply({"response_action": "errors", "errors": {REASON_BLOCK: text[:1900]}})
