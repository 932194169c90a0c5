"""`decisions db`: the database schema, its checks and backups."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from api.cli.common import Context, pass_context
from api.cli.root import main
from engine.runtime import upgrade_database


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_context
def db_upgrade(obj: Context) -> None:
    """Apply every migration (alembic upgrade head)."""
    upgrade_database(obj.database_url)
    click.echo("database is at the latest schema")


@db.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@pass_context
def db_backup(obj: Context, target: Path) -> None:
    """Consistent online copy of the SQLite database while filing continues."""
    import sqlite3

    from engine.store.backup import backup_sqlite

    if not target.parent.is_dir():
        raise click.ClickException(f"{target.parent} is not a directory; create it first")
    with click.progressbar(length=100, label="backing up", file=sys.stderr) as bar:
        done = [0]

        def progress(copied: int, total: int) -> None:
            pct = int(copied * 100 / total) if total else 100
            bar.update(pct - done[0])
            done[0] = pct

        try:
            backup_sqlite(obj.database_url, target, progress)
        except (ValueError, OSError, sqlite3.Error) as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"backup written to {target}")
