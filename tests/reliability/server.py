"""A real `decisions serve` process on 127.0.0.1 for the reliability tests."""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path
from typing import Any

from tests.served import Served
from tests.support import DEFAULT_POLICY


class Server(Served):
    """The service on `database_url` with the default policy, its state and server.log under `home`; extra
    DECISIONS_* settings as keywords. Its own process group (`kill()` is a power cut), the log appended to
    across restarts, and the CLI's default host."""

    def __init__(self, database_url: str, home: Path, workers: int = 1, **env: str) -> None:
        self.database_url = database_url
        self.home = home
        self.workers = workers
        environment = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DECISIONS_POLICY": str(DEFAULT_POLICY),
            "DECISIONS_STATE_DIR": str(home / "state"),
            **env,
        }
        super().__init__(
            environment,
            home / "server.log",
            args=["--workers", str(workers)],
            host=None,
            new_session=True,
            append=True,
        )


def request(url: str, token: str, body: bytes | None = None, method: str = "GET", timeout: float = 10) -> Any:
    req = urllib.request.Request(url, data=body, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    return urllib.request.urlopen(req, timeout=timeout)
