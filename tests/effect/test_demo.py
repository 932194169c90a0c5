"""`decisions demo`: a new database gets two quarters of history made through the service; the log
verifies, the director's load is down against the imported baseline quarter by quarter, and a
database that already holds decisions is refused."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from api.cli import main
from tests.support import DEFAULT_POLICY


def test_demo_fills_a_new_database_and_shows_the_effect(database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url, "DECISIONS_POLICY": str(DEFAULT_POLICY)}
    runner = CliRunner()
    result = runner.invoke(main, ["demo", "--today", "2026-11-30"], env=env)
    assert result.exit_code == 0, result.output
    assert "decisions filed" in result.output and "baseline of" in result.output
    verify = runner.invoke(main, ["log", "verify"], env=env)
    assert verify.exit_code == 0 and "OK" in verify.output
    audit = runner.invoke(main, ["log", "audit"], env=env)  # every step replayed through the rules
    assert audit.exit_code == 0 and "every step allowed" in audit.output, audit.output
    report = json.loads(
        runner.invoke(main, ["metrics", "effect", "--period", "quarter", "--format", "json"], env=env).output
    )
    assert report["baseline"]["items"] > 500 and report["baseline"]["import_seq"] > 0
    adopted = [p for p in report["periods"] if p["filed"]]
    assert len(adopted) == 3  # 2026-Q2, Q3 and the current Q4
    for period in adopted:
        assert period["reached_director"] > 0
        assert period["director_load_vs_baseline_pct"] < -25, period
        assert period["director_share"] < report["baseline"]["director_share"]
        assert period["director_hours_recaptured"] > 0
    assert sum(p["overdue"] for p in adopted) > 0
    html = runner.invoke(main, ["metrics", "effect", "--format", "html"], env=env).output
    assert "<svg" in html and "baseline" in html
    again = runner.invoke(main, ["demo", "--today", "2026-11-30"], env=env)
    assert again.exit_code == 1 and "needs a new database" in again.output
