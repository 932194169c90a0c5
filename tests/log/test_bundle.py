"""A filtered export carries inclusion proofs against a signed checkpoint; the CLI and the script check them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from api.cli import main
from engine.runtime import Runtime
from engine.types import FilingRequest
from tests.support import DEFAULT_POLICY, REPO


def _file(rt: Runtime, category: str, attributes: dict) -> None:  # type: ignore[type-arg]
    rt.service.file(rt.policies.current.people["mei"], FilingRequest(title="t", category=category,
                                                                     attributes=attributes))  # fmt: skip


def _verify(tmp_path: Path, export: Path, proofs: Path, key: Path) -> tuple[dict, dict]:  # type: ignore[type-arg]
    cli = CliRunner().invoke(
        main, ["log", "verify", "--export", str(export), "--proofs", str(proofs), "--public-key", str(key)]
    )
    script = subprocess.run(
        [sys.executable, str(REPO / "tools/verify_export.py"), str(export), "--proofs", str(proofs),
         "--public-key", str(key)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    cli_result, script_result = json.loads(cli.stdout), json.loads(script.stdout)
    assert (cli.exit_code == 0) == cli_result["ok"] and (script.returncode == 0) == script_result["ok"]
    return cli_result, script_result


def test_a_filtered_export_is_proven_event_by_event(runtime: Runtime, tmp_path: Path) -> None:
    for i in range(9):
        _file(runtime, "pipeline" if i % 3 else "contract", {"risk_score": 80} if i % 3 else {"change": "scope"})
    runtime.checkpoints.create()
    _file(runtime, "contract", {"change": "term"})  # after that checkpoint: the export signs a newer one first
    base = ["--database-url", runtime.database_url, "--policy", str(DEFAULT_POLICY)]
    export, proofs, key = tmp_path / "contract.jsonl", tmp_path / "proofs.json", tmp_path / "public.key"
    key.write_text("\n".join(runtime.checkpoints.verifier_keys) + "\n")
    r = CliRunner().invoke(main, [*base, "log", "export", "--category", "contract", "-o", str(export),
                                  "--proofs", str(proofs)])  # fmt: skip
    assert r.exit_code == 0, r.output
    lines = export.read_bytes().splitlines()
    assert len(lines) == 4 and all(json.loads(line)["decision_id"] for line in lines)
    bundle = json.loads(proofs.read_text())
    assert len(bundle["proofs"]) == 4 and bundle["after_checkpoint"] == []
    cli, script = _verify(tmp_path, export, proofs, key)
    assert cli["ok"] and cli["proven"] == 4 and cli["unproven"] == []
    assert script["ok"] and script["proven"] == 4

    # One changed byte in one exported event: both refuse, naming its seq.
    tampered = tmp_path / "tampered.jsonl"
    victim = json.loads(lines[1])
    lines[1] = lines[1].replace(b'"actor":"mei"', b'"actor":"eve"')
    tampered.write_bytes(b"\n".join(lines) + b"\n")
    cli, script = _verify(tmp_path, tampered, proofs, key)
    assert (cli["ok"], cli["first_bad_seq"]) == (False, victim["seq"])
    assert (script["ok"], script["first_bad_seq"]) == (False, victim["seq"])

    # A proof moved to another event's position does not lead to the root.
    forged = dict(bundle)
    forged["proofs"] = [dict(p) for p in bundle["proofs"]]
    forged["proofs"][0]["inclusion_path"] = bundle["proofs"][1]["inclusion_path"]
    bad = tmp_path / "forged.json"
    bad.write_text(json.dumps(forged))
    cli, script = _verify(tmp_path, export, bad, key)
    assert not cli["ok"] and not script["ok"] and "root" in cli["reason"] and "root" in script["reason"]


def test_proofs_over_http_need_a_checkpoint(runtime: Runtime) -> None:
    from litestar.testing import TestClient

    from api.app import create_app

    _file(runtime, "contract", {"change": "scope"})
    token = runtime.service.create_token("ann")
    with TestClient(create_app(runtime)) as client:
        headers = {"Authorization": f"Bearer {token}"}
        r = client.get("/v1/log/export/proofs?category=contract", headers=headers)
        assert r.status_code == 409 and "checkpoint" in r.json()["detail"]
        runtime.checkpoints.create()
        r = client.get("/v1/log/export/proofs?category=contract", headers=headers)
        assert r.status_code == 200 and len(r.json()["proofs"]) == 1
        assert r.json()["checkpoint"].startswith(runtime.service.origin + "\n")
