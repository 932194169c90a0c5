"""Approve from Slack against a running `decisions serve`: the issue's "done when", end to end.

A tech PM approves a tier-2 decision from the Slack message; the message updates for everyone
who received it; the log shows the approval with its channel; a forged or replayed interaction
is refused and the server logs it.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.runtime import open_runtime
from tests.notify.slack_receiver import SlackApi, slack_api
from tests.notify.slack_signing import SECRET, button_click, form, sign
from tests.reliability.server import Server, request
from tests.support import DEFAULT_POLICY

TOMAS, MEI = "U0TOMAS01", "U0MEI0001"


def _wait_for(check: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _interact(server: Server, payload: dict[str, Any], timestamp: int | None = None) -> tuple[int, bytes]:
    body = form(payload)
    headers = sign(body, int(time.time()) if timestamp is None else timestamp)
    return _post(server, body, headers)


def _post(server: Server, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    req = urllib.request.Request(server.url + "/slack/interactions", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_tech_pm_approves_from_slack_on_a_running_server(database_url: str, tmp_path: Path) -> None:
    rt = open_runtime(database_url, str(DEFAULT_POLICY))
    mei, auditor = rt.service.create_token("mei"), rt.service.create_token("ann")
    rt.close()
    api: SlackApi
    with slack_api() as api:
        env = {
            "DECISIONS_SLACK_BOT_TOKEN": api.token,
            "DECISIONS_SLACK_SIGNING_SECRET": SECRET,
            "DECISIONS_SLACK_API_URL": api.url,
            "DECISIONS_SLACK_CHANNEL": "C0APPROVE",
            "DECISIONS_NOTIFY": "1",
        }
        server = Server(database_url, tmp_path, **env).start()
        try:
            body = {
                "title": "Loosen the code bound",
                "category": "quality_threshold",
                "attributes": {"deviation_pct": 3},
            }
            with request(server.url + "/v1/decisions", mei, json.dumps(body).encode(), "POST") as r:
                decision_id = json.load(r)["id"]
            # The dispatcher posts the request to Tomas's DM and, for Priya, to the channel.
            _wait_for(lambda: len(api.of("chat.postMessage")) == 2, "the approval requests")
            dm = next(m for m in api.of("chat.postMessage") if m["channel"] == TOMAS)
            assert [e["action_id"] for e in dm["blocks"][-1]["elements"]] == ["approve", "reject", "open"]

            # The filer's own click is refused by the rules, in the words the API uses.
            status, _ = _interact(server, button_click(MEI, "approve", decision_id, "C0APPROVE", "1700000000.000002"))
            assert status == 200
            _wait_for(lambda: bool(api.of("chat.postEphemeral")), "the refusal")
            assert (
                api.of("chat.postEphemeral")[-1]["text"] == "you filed this decision; its approver must be someone else"
            )

            click = button_click(TOMAS, "approve", decision_id, "D" + TOMAS[1:], "1700000000.000001", n=2)
            click_body = form(click)
            signed = sign(click_body, int(time.time()))
            assert _post(server, click_body, signed)[0] == 200
            with request(f"{server.url}/v1/decisions/{decision_id}", auditor) as r:
                detail = json.load(r)
            assert detail["status"] == "approved"
            approval = next(e for e in detail["events"] if e["type"] == "approval_recorded")
            assert approval["actor"] == "tomas" and approval["data"]["channel"] == "slack"
            # Both messages now show the outcome, buttons gone.
            updated = {u["channel"]: u for u in api.of("chat.update")}
            assert set(updated) == {"D" + TOMAS[1:], "C0APPROVE"}
            assert all("*Approved* by tomas" in json.dumps(u["blocks"]) for u in updated.values())

            # The very same request again (a replay), one signed too long ago, and a forged one: refused.
            assert _post(server, click_body, signed)[0] == 401
            assert _interact(server, click, timestamp=int(time.time()) - 600)[0] == 401
            forged = sign(click_body, int(time.time()), secret="guessed-secret")
            assert _post(server, click_body, forged)[0] == 401
            assert _post(server, click_body, {"Content-Type": "application/x-www-form-urlencoded"})[0] == 401
        finally:
            server.stop()
    assert api.problems == []
    refused = [line for line in (tmp_path / "server.log").read_text().splitlines() if "slack: refused" in line]
    assert len(refused) == 4
    for line, words in zip(refused, ("replayed", "stale", "the signature does not match", "unsigned"), strict=True):
        assert f"refused an interaction request from 127.0.0.1: {words}" in line
