"""A real server on 127.0.0.1 with its own database, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from engine.runtime import open_runtime, upgrade_database
from tests.support import DEFAULT_POLICY, IN_CI, REPO

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR", REPO / "artifacts")) / "screenshots"
PEOPLE = ["mei", "dana", "ann", "jon"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    tokens: dict[str, str]
    database_url: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if IN_CI:
            pytest.fail(message + " (mandatory under CI=true)")
        pytest.skip(message)
    home = tmp_path_factory.mktemp("server")
    database_url = f"sqlite:///{home / 'decisions.db'}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DECISIONS_POLICY": str(DEFAULT_POLICY),
        "DECISIONS_STATE_DIR": str(home / "state"),
    }
    env.pop("DECISIONS_SIGNING_KEY", None)
    upgrade_database(database_url)
    previous = os.environ.get("DECISIONS_STATE_DIR")
    os.environ["DECISIONS_STATE_DIR"] = env["DECISIONS_STATE_DIR"]
    try:
        rt = open_runtime(database_url, str(DEFAULT_POLICY))
        tokens = {who: rt.service.create_token(who) for who in PEOPLE}
        rt.close()
    finally:
        if previous is None:
            os.environ.pop("DECISIONS_STATE_DIR", None)
        else:
            os.environ["DECISIONS_STATE_DIR"] = previous
    port = _free_port()
    decisions = shutil.which("decisions", path=str(Path(sys.executable).parent)) or "decisions"
    log = (home / "server.log").open("w")
    proc = subprocess.Popen(
        [decisions, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # A deadline, not a count of tries: on a busy machine start-up (imports, migrations) is slow.
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("the server did not start:\n" + (home / "server.log").read_text())
                time.sleep(0.1)
        yield Server(url=url, tokens=tokens, database_url=database_url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
