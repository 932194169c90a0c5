"""Approve from Slack: Block Kit requests, signed interactions, the same rules as the API.

Slack's side is real in the ways that matter: interactions are signed exactly as Slack signs
them (tests/notify/slack_signing.py) and the Web API calls land on a local receiver that checks
them against slack-sdk's own shapes (tests/notify/slack_receiver.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from api.app import create_app
from engine.notify.config import NotifyConfig
from engine.notify.delivery import deliver_due
from engine.runtime import Runtime, open_runtime
from tests.notify.slack_receiver import SlackApi, slack_api
from tests.notify.slack_signing import SECRET, button_click, form, modal_submission, sign
from tests.support import DEFAULT_POLICY, ManualClock

CHANNEL = "C0APPROVE"
TOMAS, MEI, DANA = "U0TOMAS01", "U0MEI0001", "U0DANA001"
TITLE = "Loosen <!channel> bound & <@U0DANA001>"
RATIONALE = "See <https://evil.example|the official rubric> & act now"


class Slack:
    def __init__(self, runtime: Runtime, client: TestClient[Any], api: SlackApi, clock: ManualClock) -> None:
        self.runtime, self.client, self.api, self.clock = runtime, client, api, clock
        self.tokens = {p: runtime.service.create_token(p) for p in ("mei", "tomas", "priya", "dana")}
        self.clicks = 0

    def file(self, **extra: Any) -> str:
        body = {"title": TITLE, "category": "quality_threshold", "attributes": {"deviation_pct": 3.0}, **extra}
        response = self.client.post("/v1/decisions", json=body, headers=self.auth("mei"))
        assert response.status_code == 201, response.text
        self.deliver()
        return str(response.json()["id"])

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def deliver(self) -> None:
        report = deliver_due(self.runtime.service.engine, self.runtime.notify, self.clock())
        assert report.failed == 0, report.errors

    def interact(self, payload: dict[str, Any], *, age: int = 0, secret: str = SECRET) -> Any:
        body = form(payload)
        headers = sign(body, int(self.clock().timestamp()) - age, secret)
        return self.client.post("/slack/interactions", content=body, headers=headers)

    def click(self, user: str, action: str, decision_id: str) -> Any:
        posted = {m["channel"]: m for m in self.api.of("chat.postMessage")}
        # The DM's conversation id when the user got one, else the fallback channel.
        channel = "D" + user[1:] if user in posted else CHANNEL
        self.clicks += 1
        payload = button_click(user, action, decision_id, channel, "1700000000.000001", self.clicks)
        response = self.interact(payload)
        assert response.status_code == 200, response.text
        return response

    def ephemeral(self) -> str:
        return str(self.api.of("chat.postEphemeral")[-1]["text"])


@pytest.fixture
def slack(database_url: str, clock: ManualClock) -> Iterator[Slack]:
    with slack_api() as api:
        config = NotifyConfig(
            slack_bot_token=api.token, slack_signing_secret=SECRET, slack_api_url=api.url, slack_channel=CHANNEL
        )
        rt = open_runtime(database_url, str(DEFAULT_POLICY), clock=clock, notify=config)
        try:
            with TestClient(create_app(rt), raise_server_exceptions=False) as client:
                yield Slack(rt, client, api, clock)
        finally:
            rt.close()
        assert api.problems == []


def _mrkdwn_texts(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn":
            yield value["text"]
        for item in value.values():
            yield from _mrkdwn_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _mrkdwn_texts(item)


def _buttons(message: dict[str, Any]) -> list[str]:
    return [e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


def test_requests_go_to_known_approvers_dms_and_to_the_channel_for_the_rest(slack: Slack) -> None:
    decision_id = slack.file(rationale=RATIONALE)
    posts = {m["channel"]: m for m in slack.api.of("chat.postMessage")}
    # Tomas has a Slack id: his DM. Priya has none: the fallback channel. Mei filed it: nothing.
    assert set(posts) == {TOMAS, CHANNEL}
    message = posts[TOMAS]
    assert _buttons(message) == ["approve", "reject", "open"]
    values = {e.get("value") for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert decision_id in values
    texts = "\n".join(_mrkdwn_texts(message["blocks"]))
    assert "Tier*\n2 \u00b7 Tech PM sign-off" in texts and "beyond-bound" in texts  # tier and why
    assert "*Filed by*\nmei" in texts and "*Due*\n<!date^" in texts  # filer and due time (3 days on)
    assert f"|{decision_id}>" in texts and f"/decisions/{decision_id}" in texts  # the page
    # User text is shown, never acted on: no channel ping, mention or disguised link survives.
    assert "&lt;!channel&gt;" in message["text"] and "<!channel>" not in message["text"]
    assert "&lt;https://evil.example|the official rubric&gt; &amp; act now" in texts
    for text in _mrkdwn_texts(message["blocks"]):
        assert "<!channel>" not in text and "<@U0DANA001>" not in text and "<https://evil" not in text
    header = message["blocks"][1 if message["blocks"][0]["type"] == "context" else 0]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": TITLE, "emoji": False}}


def test_the_filer_pressing_approve_gets_the_same_refusal_as_over_the_api(slack: Slack) -> None:
    decision_id = slack.file()
    over_api = slack.client.post(
        f"/v1/decisions/{decision_id}/approvals", json={"verdict": "approve"}, headers=slack.auth("mei")
    )
    assert over_api.status_code == 403
    slack.click(MEI, "approve", decision_id)
    assert slack.ephemeral() == over_api.json()["detail"]
    assert slack.runtime.service.get(decision_id).status == "pending"


def test_approving_from_slack_updates_every_message_and_a_second_click_says_what_happened(slack: Slack) -> None:
    decision_id = slack.file()
    slack.click(TOMAS, "approve", decision_id)
    detail = slack.runtime.service.get(decision_id)
    assert detail.status == "approved" and [a.approver for a in detail.approvals] == ["tomas"]
    [approval] = [e for e in detail.events if e.type == "approval_recorded"]
    assert approval.actor == "tomas" and approval.data["channel"] == "slack"
    updates = {u["channel"]: u for u in slack.api.of("chat.update")}
    assert set(updates) == {"D" + TOMAS[1:], CHANNEL}  # everyone who received the request
    for update in updates.values():
        assert _buttons(update) == ["open"]
        assert any("*Approved* by tomas" in t for t in _mrkdwn_texts(update["blocks"]))
    slack.click(TOMAS, "approve", decision_id)
    assert slack.ephemeral().startswith(":white_check_mark: *Approved* by tomas on <!date^")
    slack.click(DANA, "reject", decision_id)  # someone else, later: told, no modal
    assert "*Approved* by tomas" in slack.ephemeral() and slack.api.of("views.open") == []
    # The outbox's own update (for verdicts from any channel) rewrites them again, identically.
    before = len(slack.api.of("chat.update"))
    slack.deliver()
    assert len(slack.api.of("chat.update")) == before + 2


def test_an_approval_over_the_api_updates_the_slack_messages_too(slack: Slack) -> None:
    decision_id = slack.file()
    response = slack.client.post(
        f"/v1/decisions/{decision_id}/approvals",
        json={"verdict": "approve"},
        headers=slack.auth("priya"),
    )
    assert response.status_code == 200, response.text
    event = next(e for e in slack.runtime.service.get(decision_id).events if e.type == "approval_recorded")
    assert event.data["channel"] == "api"
    slack.deliver()
    updates = slack.api.of("chat.update")
    assert {u["channel"] for u in updates} == {"D" + TOMAS[1:], CHANNEL}
    assert all("*Approved* by priya" in "\n".join(_mrkdwn_texts(u["blocks"])) for u in updates)


def test_reject_asks_for_a_reason_in_a_modal_and_records_it(slack: Slack) -> None:
    decision_id = slack.file()
    slack.click(TOMAS, "reject", decision_id)
    [opened] = slack.api.of("views.open")
    assert opened["trigger_id"] == "1337.42.trigger1"
    view = opened["view"]
    assert json.loads(view["private_metadata"])["decision_id"] == decision_id
    # An empty reason is refused by the rules, shown on the field; nothing is recorded.
    refused = slack.interact(modal_submission(TOMAS, view, "   "))
    assert refused.status_code == 200
    assert refused.json() == {
        "response_action": "errors",
        "errors": {"reason": "$.reason: a rejection needs a reason the filer can act on"},
    }
    assert slack.runtime.service.get(decision_id).status == "pending"
    done = slack.interact(modal_submission(TOMAS, view, "Breaks <!here> client B's contract"))
    assert done.status_code == 200 and done.content == b""
    detail = slack.runtime.service.get(decision_id)
    assert detail.status == "rejected"
    assert detail.approvals[-1].reason == "Breaks <!here> client B's contract"
    last = {u["channel"]: u for u in slack.api.of("chat.update")}
    texts = "\n".join(_mrkdwn_texts(last[CHANNEL]["blocks"]))
    assert "*Rejected* by tomas" in texts and "Breaks &lt;!here&gt; client B's contract" in texts


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_forged_stale_replayed_and_unsigned_requests_are_refused_and_logged(
    slack: Slack, caplog: pytest.LogCaptureFixture
) -> None:
    decision_id = slack.file()
    payload = button_click(TOMAS, "approve", decision_id, "D" + TOMAS[1:], "1700000000.000001")
    body = form(payload)
    now = int(slack.clock().timestamp())
    caplog.set_level(logging.WARNING, logger="decisions.slack")
    attempts = {
        "unsigned": {"Content-Type": "application/x-www-form-urlencoded"},
        "forged": sign(body, now, secret="not-the-signing-secret"),
        "stale": sign(body, now - 301),
        "tampered": {**sign(body, now), "X-Slack-Request-Timestamp": str(now - 1)},
    }
    for headers in attempts.values():
        response = slack.client.post("/slack/interactions", content=body, headers=headers)
        assert response.status_code == 401
    genuine = sign(body, now - 299)
    assert slack.client.post("/slack/interactions", content=body, headers=genuine).status_code == 200
    assert slack.runtime.service.get(decision_id).status == "approved"
    replay = slack.client.post("/slack/interactions", content=body, headers=genuine)
    assert replay.status_code == 401
    logged = [r.getMessage() for r in caplog.records if r.name == "decisions.slack"]
    assert len(logged) == 5 and all(m.startswith("slack: refused an interaction request") for m in logged)
    for words in ("unsigned", "does not match", "stale", "does not match", "replayed"):
        assert any(words in m for m in logged)
    approvals = [e for e in slack.runtime.service.get(decision_id).events if e.type == "approval_recorded"]
    assert len(approvals) == 1


def test_a_slack_user_outside_the_directory_is_told_and_nothing_happens(slack: Slack) -> None:
    decision_id = slack.file()
    slack.click("U0STRANGER", "approve", decision_id)
    assert "not linked to anyone" in slack.ephemeral()
    assert slack.runtime.service.get(decision_id).status == "pending"
