"""The gate's answer for every status, and `decisions gate`/`require` beside the database (no server)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from api.cli import main
from engine.runtime import Runtime
from engine.types import FilingRequest, ProceedRequest, VerdictRequest, WithdrawRequest

TIER2 = FilingRequest(title="Loosen", category="quality_threshold", attributes={"deviation_pct": 3.0})
TIER1 = FilingRequest(title="Tweak", category="quality_threshold", attributes={"deviation_pct": 1.0})


def test_only_resolved_and_approved_pass(runtime: Runtime) -> None:
    people = runtime.policies.current.people
    service = runtime.service
    resolved = service.file(people["mei"], TIER1).decision.id
    assert service.gate(resolved).passed and service.gate(resolved).status == "resolved"
    pending = service.file(people["mei"], TIER2).decision.id
    gate = service.gate(pending)
    assert not gate.passed and gate.reason.startswith("pending tier 2: waiting for")
    withdrawn = service.file(people["mei"], TIER2).decision.id
    service.withdraw(people["mei"], withdrawn, WithdrawRequest(reason="not needed"))
    assert service.gate(withdrawn).reason == "withdrawn by mei" and not service.gate(withdrawn).passed
    broke = service.file(people["mei"], TIER2).decision.id
    service.proceed(people["mei"], broke, ProceedRequest(reason="client ships tonight"))
    assert not service.gate(broke).passed and "break-glass" in service.gate(broke).reason
    old = service.file(people["mei"], TIER2).decision.id
    service.decide(people["tomas"], old, VerdictRequest(verdict="approve"))
    assert service.gate(old).passed and service.gate(old).reason == "approved by tomas (tier 2)"
    replacement = FilingRequest(
        title="Replace", category="quality_threshold", attributes={"deviation_pct": 1.0}, supersedes=old
    )
    new = service.file(people["mei"], replacement).decision.id
    assert service.gate(old).passed  # until the replacement (needing the old one's tier) is approved
    service.decide(people["priya"], new, VerdictRequest(verdict="approve"))
    gate = service.gate(old)
    assert not gate.passed and gate.status == "superseded" and new in gate.reason


def test_cli_beside_the_database(sqlite_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"DATABASE_URL": sqlite_url, "DECISIONS_SERVER": "", "DECISIONS_BASE_URL": "https://decide.example"}
    args = ["require", "quality_threshold", "deviation_pct=3", "--title", "t", "--link", "https://git.example/1"]
    first = runner.invoke(main, [*args, "--as", "mei"], env=env)
    assert first.exit_code == 1, first.output
    decision_id = first.output.split(":")[0]
    assert f"approve at https://decide.example/decisions/{decision_id}" in first.output
    again = runner.invoke(main, [*args, "--as", "mei"], env=env)
    assert again.exit_code == 1 and again.output.split(":")[0] == decision_id
    assert runner.invoke(main, args, env=env).exit_code == 2  # who files it?
    assert runner.invoke(main, ["gate", decision_id], env=env).exit_code == 1
    tier1 = runner.invoke(
        main, ["require", "pipeline", "risk_score=5", "--title", "t", "--link", "https://g/2", "--as", "mei"], env=env
    )
    assert tier1.exit_code == 0 and "resolved by the squad" in tier1.output
    assert runner.invoke(main, ["gate", tier1.output.split(":")[0]], env=env).exit_code == 0
    bad = runner.invoke(
        main,
        ["require", "quality_threshold", "deviation_pct=oops", "--title", "t", "--link", "https://g/3", "--as", "mei"],
        env=env,
    )
    assert bad.exit_code == 1 and bad.output.count("\n") == 1 and "deviation_pct" in bad.output
