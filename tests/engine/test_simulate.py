"""Simulation on a generated history whose expected matrix is known; diff; the CLI and API around them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import main
from engine.history import HistoricalDecision, HistoryError, from_file
from engine.simulate import render_markdown, simulate
from policy import load_policy, load_policy_text
from policy.diff import diff_policies
from tests.support import DEFAULT_POLICY

TEXT = DEFAULT_POLICY.read_text()
# Candidate: the quality bound tightens from 2% to 1%, and a third tech PM joins atlas.
CANDIDATE = TEXT.replace("quality_bound_pct: 2.0", "quality_bound_pct: 1.0")


def _history() -> list[HistoricalDecision]:
    start = datetime(2026, 3, 2, 17, tzinfo=UTC)  # a Monday morning in Los Angeles
    out = []
    # 10 decisions at 0.5% (tier 1 both ways), 6 at 1.5% (1 -> 2), 4 at 3% (2 both ways), 5 contracts (3).
    for i, (deviation, tier) in enumerate([(0.5, 1)] * 10 + [(1.5, 1)] * 6 + [(3.0, 2)] * 4):
        out.append(
            HistoricalDecision(
                id=f"q{i}",
                filed_at=start + timedelta(days=i % 10),
                category="quality_threshold",
                attributes={"deviation_pct": deviation},
                tier=tier,
                filed_by="mei",
            )
        )
    for i in range(5):
        out.append(
            HistoricalDecision(
                id=f"c{i}", filed_at=start, category="contract", attributes={"change": "scope"}, tier=3, filed_by="ravi"
            )
        )
    return out


def test_the_matrix_and_the_moves_are_exact() -> None:
    current, candidate = load_policy(DEFAULT_POLICY), load_policy_text(CANDIDATE, "candidate.yaml")
    report = simulate(_history(), candidate, current)
    assert report.total == 25
    assert report.matrix == {"1": {"1": 10, "2": 6}, "2": {"2": 4}, "3": {"3": 5}}
    assert report.moved_count == 6 and report.raised == 6 and report.lowered == 0
    assert {m.id for m in report.moved} == {f"q{i}" for i in range(10, 16)}
    assert all(m.rules == ["beyond-bound"] for m in report.moved)
    # Tier-2 load rises by 6 for each tech PM, in the weeks the decisions were filed.
    assert {(a.name, a.change) for a in report.approvers} == {("priya", 6), ("tomas", 6)}
    assert sum(p.tier2_after - p.tier2_before for p in report.periods) == 6
    assert sum(p.director_after for p in report.periods) == 5
    assert "| 1 | 10 | 6 | 0 |" in render_markdown(report)


def test_since_until_and_invalid_decisions() -> None:
    candidate = load_policy_text(CANDIDATE, "candidate.yaml")
    history = [
        *_history(),
        HistoricalDecision(
            id="bad",
            filed_at=datetime(2026, 3, 3, tzinfo=UTC),
            category="pipeline",
            attributes={"risk_score": 400},
            tier=1,
        ),
    ]
    report = simulate(history, candidate, since=datetime(2026, 3, 5).date(), until=datetime(2026, 3, 7).date())
    assert report.total < 26 and report.invalid_count == 0
    everything = simulate(history, candidate)
    assert everything.invalid == ["bad"]


def test_csv_history_import_with_line_numbers(tmp_path: Path) -> None:
    good = tmp_path / "past.csv"
    good.write_text(
        "id,filed_at,category,tier,filed_by,attr.deviation_pct\n"
        "old-1,2025-11-03T10:00:00Z,quality_threshold,1,mei,1.5\n"
    )
    [row] = list(from_file(good))
    assert row.attributes == {"deviation_pct": 1.5} and row.tier == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("id,filed_at,category,tier\nx,yesterday,pipeline,1\n")
    with pytest.raises(HistoryError, match=r"bad.csv:2"):
        list(from_file(bad))


def test_semantic_diff() -> None:
    new = CANDIDATE.replace("  ann:", "  zoe: {roles: [tech_pm], squad: atlas}\n  ann:")
    changes = diff_policies(load_policy(DEFAULT_POLICY), TEXT, load_policy_text(new, "new.yaml"), new)
    assert [(c.area, c.kind, c.path) for c in changes] == [
        ("parameters", "changed", "parameters.quality_bound_pct"),
        ("people", "added", "people.zoe"),
    ]


def test_cli_simulate_from_the_log(sqlite_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--database-url", sqlite_url, "--policy", str(DEFAULT_POLICY)]
    for pct in ("0.5", "1.5", "3"):
        assert (
            runner.invoke(
                main, [*base, "file", "--as", "mei", "--title", "q", "quality_threshold", f"deviation_pct={pct}"]
            ).exit_code
            == 0
        )
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(CANDIDATE)
    result = runner.invoke(main, [*base, "policy", "simulate", "--candidate", str(candidate), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{") :])
    assert report["matrix"] == {"1": {"1": 1, "2": 1}, "2": {"2": 1}}
