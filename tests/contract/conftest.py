"""A real server for the contract suite, its OpenAPI document, and the npm linters (installed on first use)."""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.server import Server
from tests.served import issue_tokens
from tests.support import DEFAULT_POLICY, IN_CI, REPO

NODE_DIR = REPO / "tools" / "node"
#: One person per role of the default directory.
ROLES = {"squad_member": "mei", "tech_pm": "tomas", "director": "dana", "auditor": "ann", "admin": "adm"}


class Live:
    def __init__(self, server: Server, tokens: dict[str, str]) -> None:
        self.server = server
        self.url = server.url
        #: A bearer token per person of the default directory (not only per role).
        self.tokens = tokens


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    home = tmp_path_factory.mktemp("contract")
    url = f"sqlite:///{home / 'contract.db'}"
    people = {"mei", "jon", "tomas", "priya", "dana", "ann", "adm"}
    tokens = issue_tokens(url, DEFAULT_POLICY, home / "state", sorted(people))
    server = Server(url, home).start()
    try:
        yield Live(server, tokens)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def document_file(live: Live, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The document exactly as the running service serves it."""
    import urllib.request

    with urllib.request.urlopen(live.url + "/schema/openapi.json", timeout=10) as response:
        document: dict[str, Any] = json.load(response)
    path = tmp_path_factory.mktemp("document") / "openapi.json"
    path.write_text(json.dumps(document, indent=1))
    return path


@pytest.fixture(scope="session")
def node_bin() -> Path:
    """tools/node/node_modules/.bin, installed from the lock with `npm ci` when missing or stale.

    A file lock keeps two xdist workers from installing into the same directory at once.
    """
    if shutil.which("npm") is None:
        if IN_CI:
            pytest.fail("npm is required under CI=true (the OpenAPI linters are npm packages)")
        pytest.skip("npm is not installed")
    lock, stamp = NODE_DIR / "package-lock.json", NODE_DIR / "node_modules" / ".package-lock.json"
    with (NODE_DIR / ".install.lock").open("w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
            # --ignore-scripts: nothing the packages ship runs at install time (one is a telemetry ping).
            subprocess.run(
                ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=NODE_DIR,
                check=True,
                timeout=600,
            )
    return NODE_DIR / "node_modules" / ".bin"
