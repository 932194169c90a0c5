"""A real `decisions serve` process on 127.0.0.1 for the tests that need one: a free port, the environment
it runs with, /healthz answering before the test starts, and a stop (or a kill) after.

The contract, browser, packaging, reliability, gate, notify and docs suites start their servers here; what
differs between them (the environment, the executable, extra arguments, how long start-up may take, where the
output goes) is a parameter.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from engine.runtime import open_runtime, upgrade_database


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def decisions_executable() -> str:
    """The `decisions` of the interpreter running the tests (its venv's bin), else whatever PATH finds."""
    return shutil.which("decisions", path=str(Path(sys.executable).parent)) or "decisions"


def issue_tokens(database_url: str, policy: Path, state_dir: Path, people: Sequence[str]) -> dict[str, str]:
    """Upgrade the database a server will use and issue a bearer token per person, with DECISIONS_STATE_DIR
    set to the server's own `state_dir` meanwhile (restored after)."""
    upgrade_database(database_url)
    previous = os.environ.get("DECISIONS_STATE_DIR")
    os.environ["DECISIONS_STATE_DIR"] = str(state_dir)
    try:
        rt = open_runtime(database_url, str(policy))
        tokens = {who: rt.service.create_token(who) for who in people}
        rt.close()
    finally:
        if previous is None:
            os.environ.pop("DECISIONS_STATE_DIR", None)
        else:
            os.environ["DECISIONS_STATE_DIR"] = previous
    return tokens


class Served:
    """`decisions serve --port <port>` with `env` (the whole environment, not additions to ours); its stdout
    and stderr go to `log`. `start()` returns once GET /healthz answers 200.

    host: passed as --host when given (None leaves it to the CLI's default, DECISIONS_HOST or 127.0.0.1).
    new_session: the server leads its own process group, so `kill()` takes its workers down with it.
    append: add to `log` rather than overwrite it (a test that restarts the server keeps every run's output).
    """

    def __init__(
        self,
        env: Mapping[str, str],
        log: Path,
        *,
        port: int | None = None,
        executable: str | None = None,
        args: Sequence[str] = (),
        host: str | None = "127.0.0.1",
        cwd: Path | None = None,
        new_session: bool = False,
        append: bool = False,
    ) -> None:
        self.env = dict(env)
        self.log = log
        self.port = port if port is not None else free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [executable or decisions_executable(), "serve"]
        if host is not None:
            self.command += ["--host", host]
        self.command += ["--port", str(self.port), *args]
        self.cwd = cwd
        self.new_session = new_session
        self.append = append
        self.proc: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None

    def start(self, within: float = 30) -> Self:
        """Start the process and wait for /healthz; `within` is a deadline in seconds, not a count of tries
        (on a busy machine start-up, imports and migrations, is slow). RuntimeError, with the log, when the
        process exits or the deadline passes first."""
        self._output = self.log.open("ab" if self.append else "wb")
        self.proc = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=self.new_session,
        )
        deadline = time.monotonic() + within
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}):\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:  # refused while starting, or an HTTPError (a 503) before it is healthy
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start within {within} s:\n{self.output()}")
            time.sleep(0.1)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, within: float = 20) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=within)
        self._close_log()

    def kill(self) -> None:
        """SIGKILL the whole process group (start it with new_session=True): no shutdown hook, no flush, like a
        power cut for the process."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._close_log()

    def _close_log(self) -> None:
        if self._output is not None:
            self._output.close()
            self._output = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


__all__ = ["Served", "decisions_executable", "free_port", "issue_tokens"]
