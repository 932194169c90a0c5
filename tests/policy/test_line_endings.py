"""A policy file is its exact bytes: its version is their SHA-256 whichever command reads it.

Editors on Windows save CRLF. Read as text with newline translation, such a file loaded with one
version (its bytes, `load_policy`) and was stored, proposed and reloaded as another (its LF text),
so the genesis stored a text that did not hash to the version beside it, and `policy check` named a
version `policy propose` never stored.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from click.testing import CliRunner

from api.cli import main
from engine.log.audit import audit_database
from engine.runtime import open_runtime
from engine.types import FilingRequest, VerdictRequest
from policy import load_policy
from tests.support import DEFAULT_POLICY

LF = DEFAULT_POLICY.read_bytes()


def _crlf(path: Path, text: bytes = LF) -> Path:
    path.write_bytes(text.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    return path


def test_a_crlf_policy_runs_under_its_bytes_version_and_the_log_audits(database_url: str, tmp_path: Path) -> None:
    file = _crlf(tmp_path / "policies.yaml")
    version = hashlib.sha256(file.read_bytes()).hexdigest()
    assert load_policy(file).version == version
    rt = open_runtime(database_url, str(file))
    try:
        assert rt.policies.current.version == version
        # A candidate with CRLF too, proposed, approved and activated: every stored text hashes to its version.
        candidate = _crlf(tmp_path / "candidate.yaml", LF.replace(b"quality_bound_pct: 2.0", b"quality_bound_pct: 1.5"))
        proposed = rt.governance.propose(candidate.read_bytes().decode("utf-8"), str(candidate))
        assert proposed.version == hashlib.sha256(candidate.read_bytes()).hexdigest()
        people = rt.policies.current.people
        request = FilingRequest(title="35", category="policy", attributes={"candidate_version": proposed.version})
        filed = rt.service.file(people["adm"], request).decision
        rt.service.decide(people["dana"], filed.id, VerdictRequest(verdict="approve", reason="agreed"))
        assert rt.policies.current.version == proposed.version
        result = audit_database(rt.service.engine)
        assert result.ok, result
    finally:
        rt.close()


def test_check_and_propose_name_the_same_version_for_a_crlf_file(sqlite_url: str, tmp_path: Path) -> None:
    candidate = _crlf(tmp_path / "candidate.yaml", b"# the same rules, another file\n" + LF)
    runner = CliRunner()
    base = ["--database-url", sqlite_url, "--policy", str(_crlf(tmp_path / "policies.yaml"))]
    checked = runner.invoke(main, [*base, "policy", "check", "--format", "json", str(candidate)])
    assert checked.exit_code == 0, checked.output
    proposed = runner.invoke(main, [*base, "policy", "propose", str(candidate)])
    assert proposed.exit_code == 0, proposed.output
    version = hashlib.sha256(candidate.read_bytes()).hexdigest()
    assert f'"version": "{version}"' in checked.output
    assert proposed.output.strip().splitlines()[-1] == version
