"""A real server on 127.0.0.1 with its own database, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.served import Served, issue_tokens
from tests.support import DEFAULT_POLICY, IN_CI, REPO

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR", REPO / "artifacts")) / "screenshots"
PEOPLE = ["mei", "dana", "ann", "jon", "tomas", "ravi", "priya"]
AXE_DIR = Path(__file__).parent / "axe"
#: What axe may report and the suite still passes: minor and moderate findings (listed in the log).
AXE_BLOCKING = ("serious", "critical")


def axe_script() -> Path:
    """axe-core from npm, pinned by axe/package-lock.json; `npm ci` once, under a file lock (parallel workers)."""
    script = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
    if shutil.which("npm") is None:
        message = "npm is needed for axe-core (apt-get install -y npm)"
        if IN_CI:
            pytest.fail(message + " (mandatory under CI=true)")
        pytest.skip(message)
    with (AXE_DIR / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not script.exists():
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=AXE_DIR,
                check=True,
                capture_output=True,
                timeout=300,
            )
    return script


@dataclass
class Server:
    url: str
    tokens: dict[str, str]
    database_url: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("server"), DEFAULT_POLICY) as running:
        yield running


@contextmanager
def serve(home: Path, policy: Path) -> Iterator[Server]:
    """`decisions serve` on a free port of 127.0.0.1, with its own database under `home` and `policy`."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if IN_CI:
            pytest.fail(message + " (mandatory under CI=true)")
        pytest.skip(message)
    database_url = f"sqlite:///{home / 'decisions.db'}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DECISIONS_POLICY": str(policy),
        "DECISIONS_STATE_DIR": str(home / "state"),
    }
    env.pop("DECISIONS_SIGNING_KEY", None)
    tokens = issue_tokens(database_url, policy, home / "state", PEOPLE)
    with Served(env, home / "server.log").start(within=120) as served:
        yield Server(url=served.url, tokens=tokens, database_url=database_url)


class Chromium:
    """Debian's Chromium; every context it opens carries axe-core into each page it loads
    (an init script: the page's own CSP, script-src 'self', does not apply to it)."""

    def __init__(self, browser: Any, axe: Path) -> None:
        self.browser = browser
        self.axe = axe

    def new_context(self, **options: Any) -> Any:
        context = self.browser.new_context(**options)
        context.add_init_script(path=str(self.axe))
        return context

    def new_page(self, **options: Any) -> Any:
        return self.new_context(**options).new_page()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    from playwright.sync_api import sync_playwright

    axe = axe_script()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield Chromium(browser, axe)
        browser.close()


def sign_in(chromium: Chromium, server: Server, who: str, width: int = 1280, height: int = 900) -> Any:
    context = chromium.new_context(
        base_url=server.url, viewport={"width": width, "height": height}, accept_downloads=True
    )
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Token").fill(server.tokens[who])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    return page


def accessibility(page: Any, name: str) -> list[dict[str, Any]]:
    """axe-core over the page as it stands; fails on any serious or critical violation (WCAG 2.x A/AA and
    best practices), naming the rule, the elements and axe's help text."""
    page.wait_for_function("() => typeof window.axe !== 'undefined'")
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    violations: list[dict[str, Any]] = result["violations"]
    blocking = [v for v in violations if v["impact"] in AXE_BLOCKING]
    summary = [
        {"rule": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"][:5]]}
        for v in violations
    ]
    if summary:
        print(f"axe on {name} ({page.url}):", json.dumps(summary, indent=1))
    assert not blocking, f"axe: serious/critical violations on {name} ({page.url}): " + json.dumps(
        [s for s in summary if s["impact"] in AXE_BLOCKING], indent=1
    )
    return violations


def shot(page: Any, name: str, *, axe: bool = True) -> Path:
    """A full-page screenshot into ARTIFACTS (the path is printed), after axe-core has checked the page."""
    if axe:
        accessibility(page, name)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path
