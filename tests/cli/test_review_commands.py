"""`decisions show`, `list`, `approve` and `reject` on a real database: the same rules as the API (the filer
cannot approve, a rejection needs a reason) and the same filters."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from api.cli import main
from tests.support import DEFAULT_POLICY


@pytest.fixture
def run(database_url: str) -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, ["--database-url", database_url, "--policy", str(DEFAULT_POLICY), *args])

    return invoke


def _file(run: Callable[..., Result], category: str, *pairs: str, title: str = "t") -> str:
    result = run("file", "--as", "mei", "--title", title, category, *pairs)
    assert result.exit_code == 0, result.output
    return str(result.stdout.split(":")[0])


def test_file_show_approve_and_list_as_the_api_would(run: Callable[..., Result]) -> None:
    pending = _file(run, "quality_threshold", "deviation_pct=3.5", title="Loosen the bound")
    shown = run("show", pending)
    assert shown.exit_code == 0, shown.output
    assert (
        "Loosen the bound" in shown.stdout
        and "tier 2, pending" in shown.stdout
        and "decision_filed by mei" in shown.stdout
    )
    assert json.loads(run("show", pending, "--format", "json").stdout)["id"] == pending

    refused = run("approve", pending, "--as", "mei")
    assert refused.exit_code == 1 and "you filed this decision" in refused.output  # refused with the reason
    approved = run("approve", pending, "--as", "tomas", "--reason", "bounded to one client")
    assert approved.exit_code == 0 and f"{pending}: approve by tomas; now approved" in approved.stdout
    assert "approve by tomas (tech_pm): bounded to one client" in run("show", pending).stdout

    contract = _file(run, "contract", "change=scope")
    assert run("reject", contract, "--as", "dana").exit_code == 2  # --reason is required
    rejected = run("reject", contract, "--as", "dana", "--reason", "out of scope")
    assert rejected.exit_code == 0 and "now rejected" in rejected.stdout

    listed = run("list", "--status", "approved")
    assert listed.exit_code == 0 and pending in listed.stdout and contract not in listed.stdout
    by_tier = json.loads(run("list", "--tier", "3", "--format", "json").stdout)
    assert [d["id"] for d in by_tier["items"]] == [contract]
    page = run("list", "--limit", "1")
    assert contract in page.stdout and "decisions list --cursor" in page.stderr
    assert "no decisions match" in run("list", "--category", "nothing").stderr
    assert run("show", "D-nope").exit_code == 1
    assert run("list", "--status", "nonsense").exit_code == 2
    # Search, sort and the flat CSV export, as over the API.
    assert [d["id"] for d in json.loads(run("list", "--search", "loosen", "--format", "json").stdout)["items"]] == [
        pending
    ]
    titled = run("list", "--sort", "title", "--limit", "1")
    assert "decisions list --sort title --cursor" in titled.stderr
    exported = run("list", "--status", "approved", "--format", "csv").stdout.splitlines()
    assert exported[0] == "id,title,category,tier,status,filer,squad,filed,decided,approvers"
    assert len(exported) == 2 and exported[1].startswith(pending) and exported[1].endswith(",tomas")
