"""A local Slack Web API for tests: checks each call against slack-sdk's shapes, answers as Slack does.

Shapes are slack-sdk's own: the arguments a `WebClient` method accepts (its signature), and the
Block Kit and view models (`Block.parse`, `View`), which validate lengths and required fields and
must round-trip the JSON unchanged (an unknown or misspelt key would be dropped and noticed).
"""

from __future__ import annotations

import inspect
import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from slack_sdk import WebClient
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

METHODS = {
    "chat.postMessage": WebClient.chat_postMessage,
    "chat.update": WebClient.chat_update,
    "chat.postEphemeral": WebClient.chat_postEphemeral,
    "views.open": WebClient.views_open,
}


def shape_problems(method: str, args: dict[str, Any]) -> list[str]:
    function = METHODS.get(method)
    if function is None:
        return [f"{method}: not a method this service should call"]
    params = inspect.signature(function).parameters
    known = {n for n, p in params.items() if p.kind == p.KEYWORD_ONLY}
    required = {n for n, p in params.items() if p.kind == p.KEYWORD_ONLY and p.default is p.empty}
    problems = [f"{method}: unknown argument {k}" for k in args if k not in known]
    problems += [f"{method}: missing {k}" for k in required - {"view"} if k not in args]
    if method.startswith("chat.") and not args.get("text"):
        problems.append(f"{method}: no `text` fallback (notifications and screen readers need one)")
    for i, raw in enumerate(args.get("blocks") or []):
        try:
            parsed = Block.parse(raw)
            if parsed is None:
                problems.append(f"{method}: block {i} of unknown type {raw.get('type')}")
            elif parsed.to_dict() != raw:
                problems.append(f"{method}: block {i} does not round-trip: {raw} != {parsed.to_dict()}")
        except Exception as exc:  # slack-sdk's validation error: too long, missing field...
            problems.append(f"{method}: block {i}: {exc}")
    if method == "views.open":
        if "trigger_id" not in args:
            problems.append("views.open: missing trigger_id")
        try:
            if View(**args["view"]).to_dict() != args["view"]:
                problems.append("views.open: view does not round-trip")
        except Exception as exc:
            problems.append(f"views.open: view: {exc}")
    return problems


@dataclass
class SlackApi:
    url: str = ""
    token: str = "xoxb-test-token"
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def of(self, method: str) -> list[dict[str, Any]]:
        return [args for m, args in self.calls if m == method]


@contextmanager
def slack_api(token: str = "xoxb-test-token") -> Iterator[SlackApi]:
    state = SlackApi(token=token)
    lock = threading.Lock()
    stamps = itertools.count(1)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            method = self.path.rsplit("/", 1)[-1]
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            problems: list[str] = []
            if self.headers.get("Authorization") != f"Bearer {state.token}":
                problems.append(f"{method}: not the bot token")
            if not (self.headers.get("Content-Type") or "").startswith("application/json"):
                problems.append(f"{method}: Block Kit methods are sent as JSON")
            args = json.loads(raw or b"{}")
            problems += shape_problems(method, args)
            with lock:
                state.calls.append((method, args))
                state.problems += problems
                ts = f"1700000000.{next(stamps):06d}"
            if problems:
                answer: dict[str, Any] = {"ok": False, "error": "invalid_arguments", "messages": problems}
            elif method == "chat.postMessage":
                channel = args["channel"]
                # Posting to a member id opens the app's DM with them: Slack answers with the DM's id.
                conversation = "D" + channel[1:] if channel.startswith(("U", "W")) else channel
                answer = {"ok": True, "channel": conversation, "ts": ts, "message": {"text": args["text"]}}
            elif method == "chat.update":
                answer = {"ok": True, "channel": args["channel"], "ts": args["ts"], "text": args["text"]}
            elif method == "chat.postEphemeral":
                answer = {"ok": True, "message_ts": ts}
            else:
                answer = {"ok": True, "view": {**args["view"], "id": "V0000001"}}
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/api/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
