"""The `decisions` command line, through click's runner, on a real SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from api.cli import main
from engine.runtime import open_runtime
from tests.support import DEFAULT_POLICY


@pytest.fixture
def run(sqlite_url: str):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(main, ["--database-url", sqlite_url, "--policy", str(DEFAULT_POLICY), *args])

    return invoke


def test_token_create_prints_the_token_alone_on_the_last_line(run, sqlite_url: str) -> None:  # type: ignore[no-untyped-def]
    result = run("token", "create", "mei")
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("drt_") and " " not in token
    rt = open_runtime(sqlite_url, str(DEFAULT_POLICY))
    try:
        person = rt.service.authenticate(token)
        assert person is not None and person.name == "mei"
    finally:
        rt.close()
    assert run("token", "create", "nobody").exit_code != 0


def test_policy_check(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = run("policy", "check")
    assert good.exit_code == 0 and ": ok, version" in good.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEFAULT_POLICY.read_text().replace("unknown_category_tier: 3", "unknown_category_tier: 7"))
    result = run("policy", "check", str(bad))
    assert result.exit_code == 1
    line = next(n for n, text in enumerate(bad.read_text().splitlines(), 1) if text.startswith("unknown_category"))
    assert f"{bad}:{line}:" in result.output


def test_classify_file_and_verify(run, sqlite_url: str) -> None:  # type: ignore[no-untyped-def]
    result = run("classify", "pipeline", "risk_score=45")
    assert result.exit_code == 0 and result.output.startswith("Tier 2")
    filed = run("file", "--as", "mei", "--title", "raise sampling", "pipeline", "risk_score=12")
    assert filed.exit_code == 0 and ": tier 1, resolved" in filed.output
    assert run("file", "--as", "mei", "--title", "x", "pipeline", "risk_score=abc").exit_code != 0
    verified = run("log", "verify")
    assert verified.exit_code == 0, verified.output
    assert '"size": 2' in verified.output
    assert run("log", "rebuild").exit_code == 0


def test_log_verify_exits_1_at_the_first_bad_seq(run, sqlite_url: str) -> None:  # type: ignore[no-untyped-def]
    for i in range(3):
        run("file", "--as", "mei", "--title", f"t{i}", "pipeline", "risk_score=1")
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER events_refuse_update")
        conn.exec_driver_sql("UPDATE events SET body = replace(body, '\"t1\"', '\"tX\"') WHERE seq = 2")
    engine.dispose()
    result = run("log", "verify")
    assert result.exit_code == 1
    assert "BROKEN at seq 2" in result.output


def test_export_and_offline_verify(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("file", "--as", "mei", "--title", "=cmd|' /C calc'!A0", "pipeline", "risk_score=1")
    out = tmp_path / "log.jsonl"
    assert run("log", "export", "-o", str(out)).exit_code == 0
    assert len(out.read_bytes().splitlines()) == 2
    offline = run("log", "verify", "--export", str(out))
    assert offline.exit_code == 0, offline.output
    csv_out = tmp_path / "log.csv"
    assert run("log", "export", "--format", "csv", "-o", str(csv_out)).exit_code == 0
    text = csv_out.read_text()
    assert text.startswith("seq,time,type,decision,actor,tier,status,prev_hash,leaf_hash,body")


def test_backup_is_a_verifiable_copy(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("file", "--as", "mei", "--title", "t", "pipeline", "risk_score=1")
    target = tmp_path / "backup.db"
    assert run("db", "backup", str(target)).exit_code == 0
    runner = CliRunner()
    result = runner.invoke(
        main, ["--database-url", f"sqlite:///{target}", "--policy", str(DEFAULT_POLICY), "log", "verify"]
    )
    assert result.exit_code == 0, result.output


def test_delegate_grant_list_revoke(run) -> None:  # type: ignore[no-untyped-def]
    result = run("delegate", "--as", "tomas", "--to", "ravi", "--role", "tech_pm", "--until", "2099-01-01")
    assert result.exit_code == 0, result.output
    delegation_id = result.output.split(":")[0]
    assert "tomas -> ravi as tech_pm" in result.output
    listed = run("delegate", "list", "--as", "ravi")
    assert delegation_id in listed.output and "tech_pm" in listed.output
    # One level only: ravi cannot pass it on.
    refused = run("delegate", "--as", "ravi", "--to", "lena", "--role", "tech_pm", "--until", "2099-01-01")
    assert refused.exit_code != 0 and "cannot pass it on" in refused.output
    assert run("delegate", "--as", "tomas").exit_code == 2  # usage: the missing flags are named
    assert run("delegate", "revoke", delegation_id, "--as", "priya").exit_code != 0
    assert run("delegate", "revoke", delegation_id, "--as", "tomas").exit_code == 0
    assert "revoked" in run("delegate", "list", "--as", "tomas").output


def test_log_checkpoint_public_key_and_proofs(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import json

    assert run("file", "pipeline", "risk_score=10", "--as", "mei", "--title", "t").exit_code == 0
    key = tmp_path / "public.key"
    assert run("log", "public-key", "-o", str(key)).exit_code == 0
    note = tmp_path / "cp.txt"
    signed = run("log", "checkpoint", "-o", str(note))
    assert signed.exit_code == 0, signed.output
    assert "signed by SHA256:" in signed.output
    export = tmp_path / "log.jsonl"
    assert run("log", "export", "-o", str(export)).exit_code == 0
    verified = run("log", "verify", "--export", str(export), "--checkpoint", str(note), "--public-key", str(key))
    assert verified.exit_code == 0, verified.output
    inclusion = json.loads(run("log", "proof", "inclusion", "--seq", "1").stdout)
    assert inclusion["leaf_index"] == 1 and inclusion["tree_size"] == 2
    consistency = json.loads(run("log", "proof", "consistency", "--from", "1").stdout)
    assert consistency["first_tree_size"] == 1 and consistency["second_tree_size"] == 2
    refused = run("log", "proof", "inclusion", "--seq", "5")
    assert refused.exit_code != 0 and "seq" in refused.output
    rotated = run("log", "rotate-key")
    assert rotated.exit_code == 0
    assert run("file", "pipeline", "risk_score=10", "--as", "mei", "--title", "t2").exit_code == 0
    second = run("log", "checkpoint")
    assert second.stdout.count("\u2014 ") == 2  # rotation: a second signature line


def test_a_file_that_is_not_a_database_is_one_clear_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 300)
    before = garbage.read_bytes()
    runner = CliRunner()
    for args in (["log", "verify"], ["db", "upgrade"], ["serve", "--port", "1"], ["token", "create", "mei"]):
        result = runner.invoke(main, ["--database-url", f"sqlite:///{garbage}", "--policy", str(DEFAULT_POLICY), *args])
        assert result.exit_code == 1, (args, result.output)
        assert "is not a database" in result.output and "Traceback" not in result.output
    assert garbage.read_bytes() == before  # nothing was written to it
    missing = runner.invoke(main, ["--database-url", f"sqlite:///{tmp_path}/no/such/dir/x.db", "log", "verify"])
    assert missing.exit_code == 1 and "unable to open database file" in missing.output


def test_file_arguments_that_go_nowhere_are_clear_errors(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for args in (
        ["policy", "check", str(tmp_path / ".." / "nope" / "policies.yaml")],
        ["policy", "propose", str(tmp_path)],  # a directory
        ["log", "verify", "--export", "/etc/../no-such-export.jsonl"],
        ["db", "backup", str(tmp_path / "missing-dir" / "copy.db")],
    ):
        result = run(*args)
        assert result.exit_code != 0, args
        # A usage or Click error (SystemExit with a message), never an exception escaping the command.
        assert isinstance(result.exception, SystemExit), (args, result.exception)
        assert result.output.strip() and "Traceback" not in result.output, (args, result.output)


def test_propose_files_the_policy_decision_with_its_simulated_impact(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run("file", "pipeline", "risk_score=25", "--as", "mei", "--title", "t").exit_code == 0
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(DEFAULT_POLICY.read_text().replace("pipeline_risk_max: 30", "pipeline_risk_max: 20"))
    result = run("policy", "propose", str(candidate), "--file-as", "adm")
    assert result.exit_code == 0, result.output
    assert "1 change tier (1 up, 0 down)" in result.output and "tier 3, pending" in result.output
