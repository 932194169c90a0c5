"""The baseline import: validated with line-numbered errors, stored apart from the log, vouched for by
one logged event; nothing half-imported."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from api.cli import main
from engine.effect import baseline as reader
from engine.effect.service import Effect
from engine.errors import Forbidden
from engine.runtime import Runtime
from engine.store.baseline_tables import BaselineRow
from engine.store.db import read_transaction
from engine.store.tables import Event
from policy import load_policy
from tests.support import DEFAULT_POLICY

POLICY = load_policy(DEFAULT_POLICY)
GOOD = """date,kind,decided_by,waited_days
2026-01-05,contract,director,4.5
2026-01-06,quality_threshold,tech_pm,
2026-01-06,reporting_format,squad,0
2026-01-07,pipeline,dana,2
"""


def _count(rt: Runtime, table: object, where: object = None) -> int:
    query = select(func.count()).select_from(table)  # type: ignore[arg-type]
    if where is not None:
        query = query.where(where)  # type: ignore[arg-type]
    with read_transaction(rt.service.engine) as conn:
        return int(conn.execute(query).scalar_one())


def test_rows_become_tiers_by_who_decided() -> None:
    items = reader.parse(GOOD, "baseline.csv", POLICY)
    assert [(i.line, i.tier) for i in items] == [(2, 3), (3, 2), (4, 1), (5, 3)]
    assert items[0].waited_days == 4.5 and items[1].waited_days is None


def test_every_bad_row_is_named_by_file_and_line() -> None:
    text = GOOD + "2026-13-01,contract,director,1\n2026-01-08,,nobody,-3\n2026-01-09,pipeline,squad,abc\n"
    with pytest.raises(reader.BaselineInvalid) as info:
        reader.parse(text, "b.csv", POLICY)
    problems = info.value.problems
    assert problems[0].startswith("b.csv:6: date '2026-13-01'")
    assert any(p.startswith("b.csv:7: kind is empty") for p in problems)
    assert any(p.startswith("b.csv:7: decided_by 'nobody'") for p in problems)
    assert any(p.startswith("b.csv:7: waited_days") for p in problems)
    assert any(p.startswith("b.csv:8: waited_days") for p in problems)


def test_jsonl_lines_are_numbered_too() -> None:
    text = '{"date": "2026-02-02", "category": "contract", "decided_by": "director"}\n\nnot json\n[1]\n'
    with pytest.raises(reader.BaselineInvalid) as info:
        reader.parse(text, "b.jsonl", POLICY)
    assert [p.split(":")[1] for p in info.value.problems] == ["3", "4"]


def test_a_header_without_the_columns_is_refused() -> None:
    with pytest.raises(reader.BaselineInvalid, match=r"b\.csv:1: the header must name date"):
        reader.parse("day,who\n2026-01-01,dana\n", "b.csv", POLICY)


def test_import_stores_the_rows_and_logs_their_digest_once(runtime: Runtime) -> None:
    items = reader.parse(GOOD, "baseline.csv", runtime.policies.current)
    effect = Effect(runtime.service, runtime.policies, runtime.service.clock)
    seq = effect.import_baseline(runtime.policies.current.people["adm"], items, "baseline.csv")
    assert _count(runtime, BaselineRow.__table__) == 4  # type: ignore[attr-defined]
    events = Event.__table__  # type: ignore[attr-defined]
    assert _count(runtime, events, events.c.type == "baseline_imported") == 1
    summary = effect.baseline()
    assert summary is not None and summary.import_seq == seq
    assert summary.digest == reader.digest(items)
    assert (summary.items, summary.reached_director) == (4, 2)
    # A second import becomes the baseline; the first stays in the table and in the log.
    effect.import_baseline(runtime.policies.current.people["adm"], items[:1], "again.csv")
    latest = effect.baseline()
    assert latest is not None and latest.items == 1 and latest.import_seq > seq


def test_only_an_admin_imports(runtime: Runtime) -> None:
    items = reader.parse(GOOD, "baseline.csv", runtime.policies.current)
    effect = Effect(runtime.service, runtime.policies, runtime.service.clock)
    with pytest.raises(Forbidden):
        effect.import_baseline(runtime.policies.current.people["dana"], items, "baseline.csv")
    assert _count(runtime, BaselineRow.__table__) == 0  # type: ignore[attr-defined]


def test_cli_import_refuses_a_bad_file_whole(database_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(GOOD + "2026-01-10,contract,someone,1\n")
    env = {"DATABASE_URL": database_url, "DECISIONS_POLICY": str(DEFAULT_POLICY)}
    result = CliRunner().invoke(main, ["baseline", "import", str(bad)], env=env)
    assert result.exit_code == 1
    assert f"{bad}:6: decided_by 'someone'" in result.output and "nothing imported" in result.output
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    result = CliRunner().invoke(main, ["baseline", "import", str(good)], env=env)
    assert result.exit_code == 0, result.output
    assert "imported 4 baseline rows (2026-01-05 to 2026-01-07)" in result.output
