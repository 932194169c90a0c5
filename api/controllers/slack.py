"""POST /slack/interactions: Slack's buttons and modals, outside the bearer guard (Slack signs instead)."""

from __future__ import annotations

import logging
from typing import Any

import anyio.to_thread
from litestar import Request, Response, post
from litestar.exceptions import NotFoundException

from engine.notify.slack_interactions import Refused, Reply, SlackInteractions
from engine.runtime import Runtime

log = logging.getLogger("decisions.slack")


def _interactions(request: Request[Any, Any, Any]) -> SlackInteractions:
    state = request.app.state
    handler: SlackInteractions | None = state.get("slack_interactions")
    if handler is None:
        runtime: Runtime = state.runtime
        if not runtime.notify.slack_signing_secret:
            raise NotFoundException("the Slack app is not configured (DECISIONS_SLACK_SIGNING_SECRET)")
        handler = SlackInteractions(runtime.service, runtime.policies, runtime.notify)
        state.slack_interactions = handler
    return handler


@post(
    "/slack/interactions",
    opt={"public": True},
    include_in_schema=False,
    status_code=200,
    summary="Slack interactivity request URL",
)
async def slack_interactions(request: Request[Any, Any, Any]) -> Response[Any]:
    handler = _interactions(request)
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        await anyio.to_thread.run_sync(handler.verify, body, headers)
    except Refused as exc:
        client = request.client.host if request.client else "unknown"
        log.warning("slack: refused an interaction request from %s: %s", client, exc)
        return Response({"error": "this request is not signed by Slack, or was already used"}, status_code=401)
    reply: Reply = await anyio.to_thread.run_sync(handler.handle, body)
    if reply.body is None:
        return Response(b"", status_code=200, media_type="text/plain")
    return Response(reply.body, status_code=200)
