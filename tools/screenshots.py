"""Screenshots of the inbox and the digest for the docs (docs/screenshots/), from a seeded demo database.

    .venv/bin/python tools/screenshots.py --label after [--out docs/screenshots]

Starts `decisions serve` on 127.0.0.1 with a fresh SQLite database in a temporary directory, files a
handful of decisions (some approved, some commented), and drives Debian's Chromium (/usr/bin/chromium)
with Playwright: the tech PM's inbox at 1280 px and at 390 px, and the weekly digest. Prints each path.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"

FILINGS = [
    ("mei", "Raise the dedup threshold for the Q3 crawl", "pipeline", {"risk_score": 72},
     "Near-duplicates inflate the benchmark; a 0.92 cosine threshold removes 4% of rows with no recall loss."),
    ("jon", "Retire the legacy tokenizer in the eval harness", "pipeline", {"risk_score": 65},
     "The new tokenizer is already used in training; two tokenizers make eval numbers incomparable."),
    ("sofia", "Loosen the inter-annotator agreement bound for medical labels", "quality_threshold",
     {"deviation_pct": 4.5}, "Specialist labels disagree more by nature; the current bound rejects good batches."),
    ("mei", "Move the nightly export to the new bucket", "pipeline", {"risk_score": 55},
     "The old bucket is being decommissioned at the end of the month."),
    ("jon", "Sign the Q3 annotation contract with Acme", "contract", {"change": "scope"},
     "Acme adds 40 annotators for the medical domain; scope grows to three new label sets."),
    ("sofia", "Adopt weekly calibration rounds for new annotators", "quality_threshold", {"deviation_pct": 3.2},
     "Calibration catches drift in the first month, when most disagreement happens."),
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(database_url: str, state: Path) -> dict[str, str]:
    from engine.runtime import open_runtime, upgrade_database
    from engine.types import CommentRequest, FilingRequest, VerdictRequest

    os.environ["DECISIONS_STATE_DIR"] = str(state)
    upgrade_database(database_url)
    rt = open_runtime(database_url, str(REPO / "policies.yaml"))
    try:
        people = rt.policies.current.people
        ids = []
        for who, title, category, attributes, rationale in FILINGS:
            filed = rt.service.file(
                people[who], FilingRequest(title=title, category=category, attributes=attributes, rationale=rationale)
            )
            ids.append(filed.decision.id)
        rt.service.comment(people["tomas"], ids[0], CommentRequest(text="Which crawl shards were sampled?"))
        rt.service.decide(people["tomas"], ids[3], VerdictRequest(verdict="approve"))
        return {who: rt.service.create_token(who) for who in ("tomas", "dana", "mei")}
    finally:
        rt.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True, help="file name prefix, e.g. before or after")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        database_url = f"sqlite:///{home / 'decisions.db'}"
        tokens = seed(database_url, home / "state")
        port = _free_port()
        env = {**os.environ, "DATABASE_URL": database_url, "DECISIONS_POLICY": str(REPO / "policies.yaml"),
               "DECISIONS_STATE_DIR": str(home / "state")}  # fmt: skip
        decisions = shutil.which("decisions", path=str(Path(sys.executable).parent)) or "decisions"
        log = (home / "server.log").open("w")
        server = subprocess.Popen([decisions, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                  stdout=log, stderr=log)  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    with urllib.request.urlopen(url + "/healthz", timeout=1):
                        break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        print((home / "server.log").read_text(), file=sys.stderr)
                        return 1
                    time.sleep(0.2)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
                for who, path, width, name in (
                    ("tomas", "/inbox", 1280, "inbox"),
                    ("tomas", "/inbox", 390, "inbox-phone"),
                    ("dana", "/digests/weekly", 1280, "digest"),
                ):
                    page = browser.new_context(base_url=url, viewport={"width": width, "height": 900}).new_page()
                    page.goto("/login")
                    page.get_by_label("Token").fill(tokens[who])
                    page.get_by_role("button", name="Sign in").click()
                    page.wait_for_load_state()
                    page.goto(path)
                    target = args.out / f"{args.label}-{name}.png"
                    page.screenshot(path=str(target), full_page=True)
                    print(target)
                    page.context.close()
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
