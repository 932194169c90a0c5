"""`decision_counts`: how many decisions stand at each (tier, status), and `decision_days`: how many were
filed on each UTC day at each tier, both kept by triggers on `decisions`.

The table is part of the read model: the triggers fire in the transaction that writes a decision
row (filing, verdict, amendment, withdrawal, `decisions log rebuild`), so the counts are exact at
every commit and `/metrics` reads a dozen rows instead of counting every decision. A row whose
count falls to zero stays, at zero. Alembic batch operations on SQLite recreate a table and drop
its triggers: a migration that touches `decisions` must call `install_counts` again (as for
engine.store.search and engine.store.guards).

A bulk copy that switches the triggers off (bench/read_paths.py into PostgreSQL) copies this table
with the rows it counts; `recount` rebuilds it from the decisions when in doubt.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import Connection, select, text

from engine.store.guards import grant_to_app
from engine.store.tables import DecisionCount, DecisionDay

COUNTS_TABLE = "decision_counts"
_counts = DecisionCount.__table__  # type: ignore[attr-defined]
_days = DecisionDay.__table__  # type: ignore[attr-defined]
DAYS_TABLE = "decision_days"


def _sqlite_bump(row: str, delta: str) -> str:
    return (
        f"INSERT INTO {COUNTS_TABLE} (tier, status, n) VALUES ({row}.tier, {row}.status, {delta})"
        f" ON CONFLICT (tier, status) DO UPDATE SET n = n + ({delta});"
    )


_SQLITE = [
    f"""CREATE TRIGGER IF NOT EXISTS decision_counts_insert AFTER INSERT ON decisions
        BEGIN {_sqlite_bump("NEW", "1")} END""",
    # Most updates (approvals that leave a decision open, comments) move neither column: no write.
    f"""CREATE TRIGGER IF NOT EXISTS decision_counts_update AFTER UPDATE ON decisions
        WHEN OLD.tier IS NOT NEW.tier OR OLD.status IS NOT NEW.status
        BEGIN {_sqlite_bump("OLD", "-1")} {_sqlite_bump("NEW", "1")} END""",
    f"""CREATE TRIGGER IF NOT EXISTS decision_counts_delete AFTER DELETE ON decisions
        BEGIN {_sqlite_bump("OLD", "-1")} END""",
]

_PG_BUMP = (
    f"INSERT INTO {COUNTS_TABLE} (tier, status, n) VALUES ({{row}}.tier, {{row}}.status, {{delta}})"
    f" ON CONFLICT (tier, status) DO UPDATE SET n = {COUNTS_TABLE}.n + ({{delta}});"
)
_PG = [
    f"""CREATE OR REPLACE FUNCTION decision_counts_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.tier IS NOT DISTINCT FROM OLD.tier AND NEW.status IS NOT DISTINCT FROM OLD.status THEN
    RETURN NEW;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    {_PG_BUMP.format(row="OLD", delta="-1")}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    {_PG_BUMP.format(row="NEW", delta="1")}
    RETURN NEW;
  END IF;
  RETURN OLD;
END $$""",
    "DROP TRIGGER IF EXISTS decision_counts_sync ON decisions",
    """CREATE TRIGGER decision_counts_sync AFTER INSERT OR UPDATE OR DELETE ON decisions
       FOR EACH ROW EXECUTE FUNCTION decision_counts_sync()""",
    grant_to_app(COUNTS_TABLE),
]


def install_counts(conn: Connection, backfill: bool = True) -> None:
    """The triggers that keep `decision_counts` (the table itself is the model's), and its first counts."""
    if conn.dialect.name == "sqlite":
        statements = _SQLITE
    elif conn.dialect.name == "postgresql":
        statements = _PG
    else:
        raise RuntimeError(f"no decision counts for the {conn.dialect.name} dialect")
    for statement in statements:
        conn.execute(text(statement))
    if backfill:
        recount(conn)


def drop_counts(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        for trigger in ("insert", "update", "delete"):
            conn.execute(text(f"DROP TRIGGER IF EXISTS decision_counts_{trigger}"))
    else:
        conn.execute(text("DROP TRIGGER IF EXISTS decision_counts_sync ON decisions"))
        conn.execute(text("DROP FUNCTION IF EXISTS decision_counts_sync()"))


def recount(conn: Connection) -> None:
    """Counts made again from the decisions themselves (one pass over the table)."""
    conn.execute(text(f"DELETE FROM {COUNTS_TABLE}"))
    conn.execute(
        text(
            f"INSERT INTO {COUNTS_TABLE} (tier, status, n)"
            " SELECT tier, status, count(*) FROM decisions GROUP BY tier, status"
        )
    )


def decision_counts(conn: Connection) -> Counter[tuple[int, str]]:
    """(tier, status) -> how many decisions stand there now (pairs at zero left out)."""
    rows = conn.execute(select(_counts.c.tier, _counts.c.status, _counts.c.n).where(_counts.c.n != 0))
    return Counter({(tier, status): n for tier, status, n in rows})


# -- decision_days (migration 0022) ----------------------------------------------------------------------
# The UTC day of a filing: SQLite stores created_at as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC), as `Date` reads it.
_DAY = {"sqlite": "substr({row}.created_at, 1, 10)", "postgresql": "(({row}.created_at) AT TIME ZONE 'UTC')::date"}


def _day_bump(dialect: str, row: str, delta: str) -> str:
    day = _DAY[dialect].format(row=row)
    target = "n" if dialect == "sqlite" else f"{DAYS_TABLE}.n"
    return (
        f"INSERT INTO {DAYS_TABLE} (day, tier, n) VALUES ({day}, {row}.tier, {delta})"
        f" ON CONFLICT (day, tier) DO UPDATE SET n = {target} + ({delta});"
    )


_SQLITE_DAYS = [
    f"""CREATE TRIGGER IF NOT EXISTS decision_days_insert AFTER INSERT ON decisions
        BEGIN {_day_bump("sqlite", "NEW", "1")} END""",
    # Only an amendment that moves the tier moves a count (a filing's time never changes).
    f"""CREATE TRIGGER IF NOT EXISTS decision_days_update AFTER UPDATE ON decisions
        WHEN OLD.tier IS NOT NEW.tier OR OLD.created_at IS NOT NEW.created_at
        BEGIN {_day_bump("sqlite", "OLD", "-1")} {_day_bump("sqlite", "NEW", "1")} END""",
    f"""CREATE TRIGGER IF NOT EXISTS decision_days_delete AFTER DELETE ON decisions
        BEGIN {_day_bump("sqlite", "OLD", "-1")} END""",
]
_PG_DAYS = [
    f"""CREATE OR REPLACE FUNCTION decision_days_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.tier IS NOT DISTINCT FROM OLD.tier
     AND NEW.created_at IS NOT DISTINCT FROM OLD.created_at THEN
    RETURN NEW;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    {_day_bump("postgresql", "OLD", "-1")}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    {_day_bump("postgresql", "NEW", "1")}
    RETURN NEW;
  END IF;
  RETURN OLD;
END $$""",
    "DROP TRIGGER IF EXISTS decision_days_sync ON decisions",
    """CREATE TRIGGER decision_days_sync AFTER INSERT OR UPDATE OR DELETE ON decisions
       FOR EACH ROW EXECUTE FUNCTION decision_days_sync()""",
    grant_to_app(DAYS_TABLE),
]


def install_day_counts(conn: Connection, backfill: bool = True) -> None:
    """The triggers that keep `decision_days` (the table is the model's), and its first counts."""
    if conn.dialect.name not in _DAY:
        raise RuntimeError(f"no decision days for the {conn.dialect.name} dialect")
    for statement in _SQLITE_DAYS if conn.dialect.name == "sqlite" else _PG_DAYS:
        conn.execute(text(statement))
    if backfill:
        recount_days(conn)


def drop_day_counts(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        for trigger in ("insert", "update", "delete"):
            conn.execute(text(f"DROP TRIGGER IF EXISTS decision_days_{trigger}"))
    else:
        conn.execute(text("DROP TRIGGER IF EXISTS decision_days_sync ON decisions"))
        conn.execute(text("DROP FUNCTION IF EXISTS decision_days_sync()"))


def recount_days(conn: Connection) -> None:
    """Day counts made again from the decisions themselves (one pass over the table)."""
    day = _DAY[conn.dialect.name].format(row="decisions")
    conn.execute(text(f"DELETE FROM {DAYS_TABLE}"))
    conn.execute(
        text(f"INSERT INTO {DAYS_TABLE} (day, tier, n) SELECT {day}, tier, count(*) FROM decisions GROUP BY 1, 2")
    )


def day_counts(conn: Connection) -> Counter[tuple[date, int]]:
    """(UTC day, tier) -> decisions filed that day at that tier now (pairs at zero left out)."""
    rows = conn.execute(select(_days.c.day, _days.c.tier, _days.c.n).where(_days.c.n != 0))
    return Counter({(day, tier): n for day, tier, n in rows})
