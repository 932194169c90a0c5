"""First-run messages: `db upgrade` says whether it created the schema, upgraded it or found it current."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from api.cli import main
from engine.store.migrate import upgrade_database


def test_db_upgrade_says_what_it_did(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"

    def upgrade() -> str:
        result = CliRunner().invoke(main, ["--database-url", url, "db", "upgrade"])
        assert result.exit_code == 0, result.output
        return str(result.output)

    created = upgrade()
    assert created.startswith("created the schema (revision ") and "new.db" in created
    assert "is already at the latest schema" in upgrade()
    older = f"sqlite:///{tmp_path / 'older.db'}"
    upgrade_database(older, "0005")
    url = older
    assert "from revision 0005 to " in upgrade()
