"""Static analysis: each finding on a purpose-built bad policy, and the CLI around it."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from api.cli import main
from policy import load_policy
from policy.analysis import analyse
from tests.support import DEFAULT_POLICY

FIXTURE = Path(__file__).parent / "fixtures" / "findings.yaml"


def _line_of(snippet: str) -> int:
    return next(n for n, text in enumerate(FIXTURE.read_text().splitlines(), 1) if snippet in text)


def _findings() -> dict[str, list]:  # type: ignore[type-arg]
    found: dict[str, list] = {}  # type: ignore[type-arg]
    for f in analyse(load_policy(FIXTURE), FIXTURE.read_text()):
        found.setdefault(f.code, []).append(f)
    return found


def test_contradictory_bounds_are_errors_at_the_rule() -> None:
    never = _findings()["rule-never-matches"]
    assert {f.line for f in never} == {_line_of("{dev: {gt: 5, lt: 3}}"), _line_of("{dev: {gte: 10}}")}
    assert all(f.severity == "error" and f.hint for f in never)


def test_a_rule_at_or_below_the_base_tier_is_flagged() -> None:
    [finding] = _findings()["rule-cannot-change-tier"]
    assert finding.severity == "warning" and "no-effect" in finding.message
    assert finding.line == _line_of("tier: 1") or finding.line > _line_of("id: no-effect")


def test_reading_an_optional_field_without_default_is_flagged() -> None:
    [finding] = _findings()["reads-optional-field"]
    assert "clients" in finding.message and finding.line == _line_of("{clients: {gt: 1}}")


def test_unused_fields_and_parameters() -> None:
    found = _findings()
    assert any("note" in f.message for f in found["field-unused"])
    [param] = found["parameter-unused"]
    assert "forgotten" in param.message and param.line == _line_of("forgotten: 7")


def test_failing_examples_and_unsatisfiable_approvers_are_errors() -> None:
    found = _findings()
    [example] = found["example-fails"]
    assert example.line == _line_of("{attributes: {dev: 1}, tier: 2}")
    [pair] = found["approvers-unsatisfiable"]
    assert "needs 2 tech_pm" in pair.message and pair.severity == "error"
    [director] = found["approvers-unsatisfiable-for-filer"]
    assert "dana" in director.message


def test_the_default_policy_has_no_errors() -> None:
    findings = analyse(load_policy(DEFAULT_POLICY), DEFAULT_POLICY.read_text())
    assert [f for f in findings if f.severity == "error"] == []


def test_cli_exit_status_and_json() -> None:
    runner = CliRunner()
    bad = runner.invoke(main, ["policy", "check", str(FIXTURE), "--format", "json"])
    assert bad.exit_code == 1
    report = json.loads(bad.output)
    assert report["ok"] is False
    assert {f["code"] for f in report["findings"]} >= {"rule-never-matches", "example-fails", "parameter-unused"}
    good = runner.invoke(main, ["policy", "check", str(DEFAULT_POLICY)])
    assert good.exit_code == 0


def test_schema_command_writes_the_json_schema(tmp_path: Path) -> None:
    out = tmp_path / "policy.schema.json"
    result = CliRunner().invoke(main, ["policy", "schema", "-o", str(out)])
    assert result.exit_code == 0
    schema = json.loads(out.read_text())
    assert "categories" in json.dumps(schema)
