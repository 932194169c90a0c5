"""The evidence bundle verifies offline as shipped: unzipped in an empty directory, the README's command,
run with a bare python3 (no site-packages), exits 0; one changed byte anywhere makes it exit 1 with one sentence.
Checkpoints are signed on export without anyone asking, and by the server's own cadence."""

from __future__ import annotations

import io
import json
import shlex
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from api.app import create_app
from engine.log.autosign import checkpoint_every_from_env
from engine.runtime import Runtime
from engine.types import FilingRequest

PYTHON3 = shutil.which("python3") or sys.executable


def _file(rt: Runtime, category: str, attributes: dict[str, Any], who: str = "mei") -> None:
    rt.service.file(rt.policies.current.people[who], FilingRequest(title="t", category=category,
                                                                   attributes=attributes))  # fmt: skip


def _fill(rt: Runtime) -> None:
    for i in range(7):
        _file(rt, "pipeline" if i % 3 else "contract", {"risk_score": 80} if i % 3 else {"change": "scope"})


def _unzip(data: bytes, into: Path) -> Path:
    into.mkdir()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        zf.extractall(into)
    return into


def readme_command(directory: Path) -> list[str]:
    """The one command the README.txt gives, as the auditor would type it."""
    [line] = [ln.strip() for ln in (directory / "README.txt").read_text().splitlines()
              if ln.strip().startswith("python3 ")]  # fmt: skip
    return shlex.split(line)


def run_readme(directory: Path) -> subprocess.CompletedProcess[str]:
    """`python3 ...` from the README, isolated (-I) and without site-packages (-S): the standard library only."""
    command = readme_command(directory)
    assert command[0] == "python3"
    return subprocess.run([PYTHON3, "-I", "-S", *command[1:]], cwd=directory, capture_output=True, text=True,
                          check=False, timeout=120)  # fmt: skip


def _one_sentence(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "Error " not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("BROKEN") and line.endswith(".")
    assert json.loads(result.stdout)["ok"] is False
    return line


def _flip(path: Path, needle: bytes, replacement: bytes) -> None:
    data = path.read_bytes()
    assert needle in data
    path.write_bytes(data.replace(needle, replacement, 1))


def _get_bundle(client: TestClient[Any], token: str, query: str = "") -> bytes:
    r = client.get(f"/v1/log/bundle{query}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert "attachment" in r.headers["content-disposition"]
    return r.content


def test_the_whole_log_bundle_verifies_offline_and_any_changed_byte_breaks_it(runtime: Runtime, tmp_path: Path) -> None:
    _fill(runtime)
    token = runtime.service.create_token("ann")
    with TestClient(create_app(runtime)) as client:
        data = _get_bundle(client, token)
    # No checkpoint existed: the bundle signed one covering every event.
    latest = runtime.checkpoints.latest()
    assert latest is not None and latest.size == runtime.service.verify_log().size
    clean = _unzip(data, tmp_path / "bundle")
    names = sorted(p.relative_to(clean).as_posix() for p in clean.rglob("*") if p.is_file())
    versions = [v.version for v in runtime.governance.versions()]
    assert names == sorted(["README.txt", "checkpoint.txt", "decision-log.jsonl", "manifest.json", "public.key",
                            "verify_export.py", *(f"policies/{v}.yaml" for v in versions)])  # fmt: skip
    assert len((clean / "decision-log.jsonl").read_bytes().splitlines()) == latest.size
    ok = run_readme(clean)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True and json.loads(ok.stdout)["size"] == latest.size
    assert f"consistent with the signed checkpoint of {latest.size} events" in ok.stderr

    def tampered(name: str, needle: bytes, replacement: bytes) -> str:
        copy = tmp_path / f"tampered-{len(list(tmp_path.glob('tampered-*')))}"
        shutil.copytree(clean, copy)
        _flip(copy / name, needle, replacement)
        return _one_sentence(run_readme(copy))

    assert "seq 3" in tampered("decision-log.jsonl", b'"seq":3,', b'"seq":4,')
    assert "prev is not" in tampered("decision-log.jsonl", b'"actor":"mei"', b'"actor":"meg"')
    size = f"\n{latest.size}\n".encode()
    assert "altered" in tampered("checkpoint.txt", size, f"\n{latest.size - 1}\n".encode())
    assert "does not match its key id" in tampered("public.key", b"+", b"x+")
    assert "does not hash to its version" in tampered(f"policies/{versions[0]}.yaml", b"tiers:", b"tiers: ")


def test_a_filtered_bundle_carries_proofs_and_verifies_offline(runtime: Runtime, tmp_path: Path) -> None:
    _fill(runtime)
    runtime.checkpoints.create()
    _file(runtime, "contract", {"change": "term"})  # past that checkpoint: the bundle signs a newer one
    token = runtime.service.create_token("ann")
    with TestClient(create_app(runtime)) as client:
        data = _get_bundle(client, token, "?category=contract")
    clean = _unzip(data, tmp_path / "bundle")
    lines = (clean / "decision-log.jsonl").read_bytes().splitlines()
    assert len(lines) == 4
    proofs = json.loads((clean / "proofs.json").read_text())
    assert len(proofs["proofs"]) == 4 and proofs["after_checkpoint"] == []
    assert json.loads((clean / "manifest.json").read_text())["filter"] == {"category": "contract"}
    ok = run_readme(clean)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["proven"] == 4
    _flip(clean / "decision-log.jsonl", b'"change":"term"', b'"change":"tErm"')
    assert "bytes were changed" in _one_sentence(run_readme(clean))


def test_the_bundle_is_for_auditors_and_admins(runtime: Runtime) -> None:
    with TestClient(create_app(runtime)) as client:
        for who, status in (("mei", 403), ("tomas", 403), ("ann", 200), ("adm", 200)):
            token = runtime.service.create_token(who)
            r = client.get("/v1/log/bundle", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == status, (who, r.text)


def test_an_export_signs_the_checkpoint_that_covers_it(runtime: Runtime) -> None:
    """The README's offline audit on a fresh server: export, then fetch the checkpoint; it is there."""
    _fill(runtime)
    assert runtime.checkpoints.latest() is None
    token = runtime.service.create_token("ann")
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(runtime)) as client:
        export = client.get("/v1/log/export", headers=headers)
        note = client.get("/v1/log/checkpoint?format=note", headers=headers)
        assert note.status_code == 200
        assert note.text.split("\n")[1] == str(len(export.content.splitlines()))
        # Nothing appended since: a second export signs nothing new.
        client.get("/v1/log/export", headers=headers)
    assert len(runtime.checkpoints.all()) == 1


def test_the_server_signs_on_its_cadence_when_the_log_has_grown(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DECISIONS_CHECKPOINT_EVERY", "1s")
    _fill(runtime)
    with TestClient(create_app(runtime)):
        for _ in range(200):  # waits for the signer thread, at most 20 s; no assertion on the time it takes
            latest = runtime.checkpoints.latest()
            if latest is not None:
                break
            time.sleep(0.1)
    assert latest is not None and latest.size == runtime.service.verify_log().size


@pytest.mark.parametrize("raw", ["2m", "0", "off", ""])
def test_the_cadence_reads_durations_or_off(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DECISIONS_CHECKPOINT_EVERY", raw)
    every = checkpoint_every_from_env()
    assert (every.total_seconds() if every else None) == {"2m": 120, "0": None, "off": None, "": 60}[raw]


def test_a_cadence_that_is_not_a_duration_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DECISIONS_CHECKPOINT_EVERY", "soon")
    with pytest.raises(ValueError, match="DECISIONS_CHECKPOINT_EVERY='soon'"):
        checkpoint_every_from_env()


def test_the_cli_writes_the_same_bundle(runtime: Runtime, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from api.cli import main
    from tests.support import DEFAULT_POLICY

    _fill(runtime)
    base = ["--database-url", runtime.database_url, "--policy", str(DEFAULT_POLICY)]
    target = tmp_path / "evidence.zip"
    r = CliRunner().invoke(main, [*base, "log", "bundle", "-o", str(target)])
    assert r.exit_code == 0, r.output
    assert "python3 verify_export.py decision-log.jsonl" in r.output
    assert not list(tmp_path.glob("*.partial"))
    whole = _unzip(target.read_bytes(), tmp_path / "whole")
    ok = run_readme(whole)
    assert ok.returncode == 0, ok.stderr
    r = CliRunner().invoke(main, [*base, "log", "bundle", "--tier", "3", "-o", str(target)])
    assert r.exit_code == 0, r.output
    filtered = _unzip(target.read_bytes(), tmp_path / "filtered")
    assert "--proofs proofs.json" in (filtered / "README.txt").read_text()
    ok = run_readme(filtered)
    assert ok.returncode == 0 and json.loads(ok.stdout)["proven"] == 3, ok.stderr
    _flip(filtered / "proofs.json", b'"inclusion_path":["', b'"inclusion_path":["0')
    _one_sentence(run_readme(filtered))
