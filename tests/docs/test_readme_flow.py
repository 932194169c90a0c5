"""The README's walk-through and the auditor's offline check, run as written (bash, curl, python3) against a
real `decisions serve` on a fresh database: only the host:port, the venv's path and the repository's path are
substituted. A README edit that breaks the flow breaks this test."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.reliability.server import Server
from tests.support import REPO

README = REPO / "README.md"


def sh_block_after(marker: str) -> str:
    """The first ```sh block after the line containing `marker`."""
    text = README.read_text(encoding="utf-8")
    start = text.index(marker)
    match = re.search(r"```sh\n(.*?)```", text[start:], re.S)
    assert match, f"no sh block after {marker!r}"
    return match.group(1)


def as_run_here(script: str, server: Server) -> str:
    venv_bin = Path(sys.executable).parent
    return (
        script.replace("localhost:8000", f"127.0.0.1:{server.port}")
        .replace(".venv/bin/decisions", str(venv_bin / "decisions"))
        .replace("tools/verify_export.py", str(REPO / "tools" / "verify_export.py"))
    )


def test_the_walk_through_and_the_offline_audit_run_as_written(sqlite_url: str, tmp_path: Path) -> None:
    server = Server(sqlite_url, tmp_path).start()
    try:
        script = "\n".join(
            as_run_here(sh_block_after(marker), server)
            for marker in ("## Five-minute walk-through", "The auditor's offline check")
        )
        work = tmp_path / "auditor"
        work.mkdir()
        done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=work, env=server.env,
                              capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    finally:
        server.stop()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # The tech PM's approval went through, and both offline checks passed against the signed checkpoint.
    assert '"status":"approved"' in done.stdout.replace(" ", "")
    assert done.stderr.count("OK: ") >= 3, done.stderr
    assert "policy versions' texts match" in done.stderr  # the evidence bundle, unzipped and verified
    assert "consistent with the signed checkpoint" in done.stderr
    assert (work / "checkpoint.txt").read_text().count("\n") >= 4  # a signed note, not an error body
