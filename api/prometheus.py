"""Prometheus text exposition at /metrics: decision gauges read from the store, request latencies in-process.

Written by hand rather than with prometheus_client: a dozen lines of text format against
a dependency with its own multiprocess story. Latencies are per worker process.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

from litestar import Request, Response, get
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import runtime_of
from engine.effect.gauges import effect_gauges
from engine.gauges import read_gauges

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class LatencyHistogram:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self._sums: dict[tuple[str, str, str], float] = defaultdict(float)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, f"{status // 100}xx")
        with self._lock:
            counts = self._counts[key]
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
            counts[-1] += 1
            self._sums[key] += seconds

    def exposition(self) -> list[str]:
        name = "decisions_http_request_duration_seconds"
        lines = [f"# HELP {name} Request latency by method, route and status class.", f"# TYPE {name} histogram"]
        with self._lock:
            for (method, route, status), counts in sorted(self._counts.items()):
                labels = f'method="{method}",route="{_escape(route)}",status="{status}"'
                for bound, count in zip(BUCKETS, counts, strict=False):
                    lines.append(f'{name}_bucket{{{labels},le="{bound}"}} {count}')
                lines.append(f'{name}_bucket{{{labels},le="+Inf"}} {counts[-1]}')
                lines.append(f"{name}_sum{{{labels}}} {self._sums[(method, route, status)]:.6f}")
                lines.append(f"{name}_count{{{labels}}} {counts[-1]}")
        return lines


HISTOGRAM = LatencyHistogram()


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def latency_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, capture)
        finally:
            # The route template, never the raw path: decision ids must not explode the label set.
            route = scope.get("path_template") or "unmatched"
            HISTOGRAM.observe(str(scope.get("method", "GET")), str(route), status, time.perf_counter() - started)

    return middleware


def _gauges(request: Request[Any, Any, Any]) -> list[str]:
    runtime = runtime_of(request)
    policy = runtime.policies.current
    # A dozen counter rows, the head row and a count of the open decisions: never a pass over the history.
    g = read_gauges(runtime.service.engine, policy, runtime.service.clock())
    filed, pending, overdue, break_glass, size = g.by_tier, g.pending, g.overdue, g.break_glass, g.log_events
    lines = []
    lines += [
        # Never by tier: an amendment can move a decision down a tier, and a counter must never go down.
        "# HELP decisions_filed_total Decisions filed.",
        "# TYPE decisions_filed_total counter",
        f"decisions_filed_total {sum(filed.values())}",
    ]
    for name, kind, help_, values in (
        ("decisions_by_tier", "gauge", "Decisions by their current tier (after amendments).", filed),
        ("decisions_pending", "gauge", "Decisions waiting for sign-off, by tier.", pending),
        ("decisions_overdue", "gauge", "Pending decisions past their tier's SLA, by tier.", overdue),
    ):
        lines += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
        lines += [f'{name}{{tier="{t}"}} {int(values.get(t, 0))}' for t in sorted(policy.tiers)]
    lines += [
        "# HELP decisions_break_glass_pending Decisions proceeding under break-glass, not yet reviewed.",
        "# TYPE decisions_break_glass_pending gauge",
        f"decisions_break_glass_pending {break_glass}",
        "# HELP decisions_log_events Events in the decision log.",
        "# TYPE decisions_log_events gauge",
        f"decisions_log_events {size}",
    ]
    return lines


@get(
    "/metrics",
    opt={"public": True},
    sync_to_thread=True,
    include_in_schema=False,
)
def metrics(request: Request[Any, Any, Any]) -> Response[str]:
    """Counts only, no names or titles: safe to expose to the scraper without a token."""
    body = "\n".join([*_gauges(request), *effect_gauges(runtime_of(request)), *HISTOGRAM.exposition()]) + "\n"
    return Response(body, media_type="text/plain; version=0.0.4")
