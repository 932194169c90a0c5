"""Consistent online backups of the embedded SQLite database (PostgreSQL: use pg_dump)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url


def sqlite_path(database_url: str) -> Path:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        raise ValueError(
            "online backup is built in for SQLite only; for PostgreSQL run "
            "`pg_dump --format=custom --file=BACKUP.dump DBNAME` (it takes a consistent snapshot)"
        )
    return Path(url.database)


def backup_sqlite(
    database_url: str, target: Path, progress: Callable[[int, int], None] | None = None, pages_per_step: int = 256
) -> Path:
    """Copy the database page by page with SQLite's online backup API while writers keep going.

    The copy is a consistent snapshot: writes that land during the backup restart the
    affected steps, never leave a torn file.
    """
    source_path = sqlite_path(database_url)
    if not source_path.exists():
        raise FileNotFoundError(f"no database at {source_path}")
    target = Path(target)
    if target.exists():
        raise FileExistsError(f"{target} exists; choose a new file so no backup is overwritten")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    dest = sqlite3.connect(target)
    try:

        def report(_status: int, remaining: int, total: int) -> None:
            if progress:
                progress(total - remaining, total)

        source.backup(dest, pages=pages_per_step, progress=report)
        dest.execute("PRAGMA journal_mode=DELETE")  # a self-contained single file
    finally:
        dest.close()
        source.close()
    return target
