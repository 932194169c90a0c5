"""Probes: /healthz says the process lives, /readyz that it can serve (database answers, state directory writable)."""

from __future__ import annotations

import contextlib
import os
from typing import Any

from litestar import Request, Response, route
from litestar.enums import HttpMethod

from api.errors import PROBLEM_JSON, RETRY_AFTER_SECONDS
from engine.runtime import Runtime

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
    # Out of the OpenAPI document until issue 16 declares its 503 problem (the linters want a 4XX there).
    include_in_schema=False,
    summary="Readiness: the database answers and the state directory is writable",
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
