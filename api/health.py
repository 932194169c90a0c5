"""Probes: /healthz says the process lives, /readyz that it can serve (database answers, state directory writable)."""

from __future__ import annotations

import contextlib
import os
from typing import Annotated, Any, Literal

from litestar import Request, Response, route
from litestar.enums import HttpMethod
from msgspec import Meta, Struct

from api.errors import PROBLEM_JSON, RETRY_AFTER_SECONDS
from api.openapi import Problem, WithHeaders
from engine.runtime import Runtime

Check = Annotated[str, Meta(description="`ok`, or `unavailable: ` and the reason.")]


class ReadinessChecks(Struct, kw_only=True):
    database: Check
    state_dir: Check


class Readiness(Struct, kw_only=True):
    status: Literal["ready"]
    checks: ReadinessChecks


class NotReady(Problem, kw_only=True):
    """The problem /readyz answers while a check fails: the usual fields, and every check's result."""

    checks: ReadinessChecks


def method_not_allowed(*allowed: str) -> WithHeaders:
    """What a probe's path answers to any other method (Litestar's 405, as problem details)."""
    return WithHeaders(
        data_container=Problem,
        media_type=PROBLEM_JSON,
        description=f"Only {' and '.join(allowed)} are answered here.",
        generate_examples=False,
        headers={"Allow": "The methods this path answers."},
    )


_PROBE_BYTES = b"\0" * 4096


def _database(runtime: Runtime) -> str:
    try:
        with runtime.service.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # any failure means "not ready", and says why
        return f"unavailable: {' '.join(str(exc).split())[:300]}"
    return "ok"


def _state_dir(runtime: Runtime) -> str:
    """The signing key and the last checkpoint live here: a checkpoint needs room to be recorded."""
    directory = runtime.checkpoints.state_dir
    probe = directory / f".readyz-{os.getpid()}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, _PROBE_BYTES)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        return f"unavailable: {exc.strerror or exc}"
    finally:
        with contextlib.suppress(OSError):
            probe.unlink(missing_ok=True)
    return "ok"


@route(
    "/readyz",
    http_method=[HttpMethod.GET, HttpMethod.HEAD],
    opt={"public": True},
    sync_to_thread=True,
    tags=["health"],
    summary="Readiness: the database answers and the state directory is writable",
    description="No credentials needed. 200 when every check passes; 503 naming the failing ones otherwise.",
    responses={
        200: WithHeaders(Readiness, description="Ready: every check passed.", generate_examples=False),
        405: method_not_allowed("GET", "HEAD"),
        503: WithHeaders(
            data_container=NotReady,
            media_type=PROBLEM_JSON,
            description="Not ready: `detail` and `checks` say which check failed and why.",
            generate_examples=False,
            headers={"Retry-After": f"Seconds to wait before asking again ({RETRY_AFTER_SECONDS})."},
        ),
    },
)
def readyz(request: Request[Any, Any, Any]) -> Response[Any]:
    runtime: Runtime = request.app.state.runtime
    checks = {"database": _database(runtime), "state_dir": _state_dir(runtime)}
    if all(v == "ok" for v in checks.values()):
        return Response({"status": "ready", "checks": checks})
    failing = "; ".join(f"{k} {v}" for k, v in checks.items() if v != "ok")
    body = {
        "type": "urn:decision-rights:problem:unavailable",
        "title": "Unavailable",
        "status": 503,
        "detail": f"not ready: {failing}",
        "checks": checks,
    }
    return Response(body, status_code=503, media_type=PROBLEM_JSON, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
