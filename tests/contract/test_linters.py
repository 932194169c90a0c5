"""The OpenAPI document as two linters client authors use see it: Spectral's `oas` ruleset and
Redocly's `recommended` ruleset, both from npm (tools/node), on the document the server serves."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

HERE = Path(__file__).parent


def test_spectral_oas_ruleset_finds_nothing(document_file: Path, node_bin: Path) -> None:
    run = subprocess.run(
        [str(node_bin / "spectral"), "lint", "--quiet", "--format", "json", "--ruleset", str(HERE / "spectral.yaml"),
         str(document_file)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    results = json.loads(run.stdout or "[]")
    findings = [f"{r['code']} at {'.'.join(map(str, r['path']))}: {r['message']}" for r in results]
    assert findings == [], "\n".join(findings)
    assert run.returncode == 0, run.stderr


def test_redocly_recommended_ruleset_finds_nothing(document_file: Path, node_bin: Path) -> None:
    env = {**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"}
    run = subprocess.run(
        [str(node_bin / "redocly"), "lint", "--config", str(HERE / "redocly.yaml"), "--format", "json",
         str(document_file)],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    report = json.loads(run.stdout)
    found = [f"{p['ruleId']} at {p['location'][0]['pointer']}: {p['message']}" for p in report["problems"]]
    assert found == [], "\n".join(found)
    assert run.returncode == 0, run.stderr
