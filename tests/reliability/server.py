"""A real `decisions serve` process on 127.0.0.1 for the reliability tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.support import DEFAULT_POLICY


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, database_url: str, home: Path, workers: int = 1, **env: str) -> None:
        self.database_url = database_url
        self.home = home
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DECISIONS_POLICY": str(DEFAULT_POLICY),
            "DECISIONS_STATE_DIR": str(home / "state"),
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        decisions = shutil.which("decisions", path=str(Path(sys.executable).parent)) or "decisions"
        log = (self.home / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [decisions, "serve", "--port", str(self.port), "--workers", str(self.workers)],
            env=self.env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        for _ in range(300):
            if self.proc.poll() is not None:
                raise RuntimeError("server exited:\n" + (self.home / "server.log").read_text(errors="replace"))
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1):
                    return self
            except (OSError, urllib.error.HTTPError):
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown hook, no flush, like a power cut for the process."""
        assert self.proc is not None
        os.killpg(self.proc.pid, 9)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


def request(url: str, token: str, body: bytes | None = None, method: str = "GET", timeout: float = 10) -> Any:
    req = urllib.request.Request(url, data=body, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    return urllib.request.urlopen(req, timeout=timeout)
