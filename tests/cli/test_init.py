"""`decisions init` and `decisions --version`: the first two commands on a new machine."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import main
from policy import load_policy_text
from tests.support import DEFAULT_POLICY


def test_version_is_the_installed_distributions() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"decisions {version('decision-rights')}\n"


def test_init_writes_the_commented_starter_policy_and_never_overwrites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DECISIONS_POLICY", raising=False)
    runner = CliRunner()
    first = runner.invoke(main, ["init"])
    assert first.exit_code == 0, first.output
    written = (tmp_path / "policies.yaml").read_text()
    assert written == DEFAULT_POLICY.read_text()
    assert load_policy_text(written, "policies.yaml").categories  # it loads as written
    (tmp_path / "policies.yaml").write_text("# mine\n")
    again = runner.invoke(main, ["init"])
    assert again.exit_code == 1
    assert "already exists" in again.output
    assert (tmp_path / "policies.yaml").read_text() == "# mine\n"


def test_init_writes_where_the_policy_option_points(tmp_path: Path) -> None:
    target = tmp_path / "etc" / "policies.yaml"
    target.parent.mkdir()
    result = CliRunner().invoke(main, ["--policy", str(target), "init"])
    assert result.exit_code == 0, result.output
    assert target.read_text() == DEFAULT_POLICY.read_text()
    missing = CliRunner().invoke(main, ["--policy", str(tmp_path / "nowhere" / "p.yaml"), "init"])
    assert missing.exit_code == 1 and "cannot write" in missing.output
