"""Gates as CI runs them: a bash script with `decisions require` and `decisions gate` against a real server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.runtime import open_runtime
from tests.reliability.server import Server, request
from tests.support import DEFAULT_POLICY, REPO

SCRIPT = REPO / "tests" / "gates" / "ci_gate.sh"
DECISIONS = shutil.which("decisions", path=str(Path(sys.executable).parent)) or "decisions"


@pytest.fixture
def served(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[Server, dict[str, str]]]:
    rt = open_runtime(sqlite_url, str(DEFAULT_POLICY))
    tokens = {who: rt.service.create_token(who) for who in ("mei", "tomas", "ann")}
    rt.close()
    server = Server(sqlite_url, tmp_path).start()
    try:
        yield server, tokens
    finally:
        server.stop()


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DECISIONS, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def _pipeline_env(server: Server, token: str, work: Path) -> dict[str, str]:
    # No DATABASE_URL and an empty working directory: a pipeline has only the server and a token.
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DECISIONS_POLICY")}
    return {
        **env,
        "DECISIONS_SERVER": server.url,
        "DECISIONS_TOKEN": token,
        "DECISIONS_BIN": DECISIONS,
        "WORK_DIR": str(work),
        "CHANGE_URL": "https://git.example/mr/42",
    }


def test_a_pipeline_blocks_until_its_decision_is_approved(
    served: tuple[Server, dict[str, str]], tmp_path: Path
) -> None:
    server, tokens = served
    work = tmp_path / "job"
    work.mkdir()
    job = subprocess.Popen(
        ["bash", str(SCRIPT)],
        env=_pipeline_env(server, tokens["mei"], work),
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (work / "waiting").exists():
        assert job.poll() is None, f"the script stopped early with {job.returncode}: {job.communicate()}"
        assert time.monotonic() < deadline, "the script never reached the gate"
        time.sleep(0.05)
    decision_id = (work / "require.out").read_text().split(":")[0]
    assert "pending tier 2: waiting for" in (work / "require.out").read_text()
    time.sleep(1)  # the gate is polling; it must still be blocked
    assert job.poll() is None
    body = json.dumps({"verdict": "approve", "reason": "one client only"}).encode()
    with request(f"{server.url}/v1/decisions/{decision_id}/approvals", tokens["tomas"], body, "POST"):
        pass
    out, err = job.communicate(timeout=60)
    assert job.returncode == 0, (job.returncode, out, err)
    assert out.strip() == decision_id
    assert (work / "gate.out").read_text() == f"{decision_id}: approved by tomas (tier 2)\n"
    assert "resolved by the squad at filing (tier 1)" in (work / "tier1.out").read_text()
    # Filed once per link: the re-runs found it.
    with request(f"{server.url}/v1/decisions?category=quality_threshold", tokens["ann"]) as r:
        assert [d["id"] for d in json.load(r)["items"]] == [decision_id]


def test_gate_exit_codes_and_reasons(served: tuple[Server, dict[str, str]], tmp_path: Path) -> None:
    server, tokens = served
    env = _pipeline_env(server, tokens["mei"], tmp_path)
    filed = _cli(
        "require",
        "quality_threshold",
        "deviation_pct=4",
        "--title",
        "t",
        "--link",
        "https://x/1",
        env=env,
        cwd=tmp_path,
    )
    assert filed.returncode == 1
    decision_id = filed.stdout.split(":")[0]
    body = json.dumps({"verdict": "reject", "reason": "too wide\nfor client A"}).encode()
    with request(f"{server.url}/v1/decisions/{decision_id}/approvals", tokens["tomas"], body, "POST"):
        pass
    # Rejected is final: even with --wait the gate answers at once, on one line.
    rejected = _cli("gate", decision_id, "--wait", "600", env=env, cwd=tmp_path)
    assert rejected.returncode == 1
    assert rejected.stdout == f"{decision_id}: rejected by tomas: too wide for client A\n"
    unknown = _cli("gate", "D-nope", env=env, cwd=tmp_path)
    assert unknown.returncode == 1 and unknown.stdout.count("\n") == 1 and "404" in unknown.stdout
    assert _cli("gate", env=env, cwd=tmp_path).returncode == 2  # usage: no ID
    no_token = {k: v for k, v in env.items() if k != "DECISIONS_TOKEN"}
    assert _cli("gate", decision_id, env=no_token, cwd=tmp_path).returncode == 2
    down = {**env, "DECISIONS_SERVER": "http://127.0.0.1:9"}
    unreachable = _cli("gate", decision_id, env=down, cwd=tmp_path)
    assert unreachable.returncode == 1 and "cannot reach http://127.0.0.1:9" in unreachable.stdout
    with request(f"{server.url}/v1/decisions/{decision_id}/gate", tokens["ann"]) as r:  # an auditor reads it too
        assert json.load(r) == {
            "pass": False,
            "status": "rejected",
            "reason": "rejected by tomas: too wide for client A",
            "decision_id": decision_id,
        }
