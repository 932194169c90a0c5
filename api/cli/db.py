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
    """Apply every migration (alembic upgrade head), saying whether it created, upgraded or left the schema."""
    from sqlalchemy.engine import make_url

    from engine.store.db import database_url_from_env, normalise_url
    from engine.store.migrate import schema_revision

    url = normalise_url(obj.database_url or database_url_from_env())
    where = make_url(url).render_as_string(hide_password=True)
    before = schema_revision(url)
    upgrade_database(url)
    after = schema_revision(url)
    if before is None:
        click.echo(f"created the schema (revision {after}) in {where}")
    elif before == after:
        click.echo(f"{where} is already at the latest schema (revision {after})")
    else:
        click.echo(f"upgraded {where} from revision {before} to {after}")


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


@db.command("check")
@pass_context
def db_check(obj: Context) -> None:
    """The append-only guards and the chain head row; exit 1 naming every problem, one per line.

    Reads only: the policy is not bootstrapped and nothing is appended.
    """
    from engine.store.db import create_db_engine, normalise_url
    from engine.store.integrity import check_database, schema_problem

    engine = create_db_engine(normalise_url(obj.database_url))
    try:
        report = check_database(engine)
        revision = schema_problem(engine)
    finally:
        engine.dispose()
    problems = report.problems + ([revision] if revision else [])
    for problem in problems:
        click.echo(f"FAIL: {problem}", err=True)
    if problems:
        raise SystemExit(1)
    click.echo(f"OK: guards in place, chain head agrees with the {report.events} events, schema at head")
