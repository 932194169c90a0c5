"""Database triggers that make `events` (and `checkpoints`) append-only.

Alembic batch operations on SQLite recreate tables and silently drop triggers:
every migration that touches these tables must call `install_guards` again, and
a test asserts the triggers exist after `upgrade head` on both backends.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

APPEND_ONLY_TABLES = ("events", "checkpoints")

_SQLITE = [
    """CREATE TRIGGER IF NOT EXISTS {t}_refuse_update BEFORE UPDATE ON {t}
       BEGIN SELECT RAISE(ABORT, '{t} is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER IF NOT EXISTS {t}_refuse_delete BEFORE DELETE ON {t}
       BEGIN SELECT RAISE(ABORT, '{t} is append-only: DELETE refused'); END""",
]

# INSERT OR REPLACE deletes the conflicting row without firing DELETE triggers (unless
# recursive_triggers is on), so inserts are checked directly: the next seq, no reused hash.
_SQLITE_EVENTS_INSERT = """CREATE TRIGGER IF NOT EXISTS events_append_only_insert BEFORE INSERT ON events
   WHEN NEW.seq != (SELECT COALESCE(MAX(seq), -1) + 1 FROM events)
     OR EXISTS (SELECT 1 FROM events WHERE leaf_hash = NEW.leaf_hash OR prev_hash = NEW.prev_hash)
   BEGIN SELECT RAISE(ABORT, 'events is append-only: an insert must take seq max(seq)+1 and new hashes'); END"""

_PG_FUNCTION = """CREATE OR REPLACE FUNCTION decisions_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$"""

_PG_EVENTS_INSERT_FUNCTION = """CREATE OR REPLACE FUNCTION decisions_events_next_seq() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.seq <> (SELECT COALESCE(MAX(seq), -1) + 1 FROM events) THEN
    RAISE EXCEPTION 'events is append-only: an insert must take seq max(seq)+1'
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END $$"""

_PG = [
    "DROP TRIGGER IF EXISTS {t}_refuse_change ON {t}",
    """CREATE TRIGGER {t}_refuse_change BEFORE UPDATE OR DELETE ON {t}
       FOR EACH ROW EXECUTE FUNCTION decisions_refuse_change()""",
    "ALTER TABLE {t} ENABLE ALWAYS TRIGGER {t}_refuse_change",
    "DROP TRIGGER IF EXISTS {t}_refuse_truncate ON {t}",
    """CREATE TRIGGER {t}_refuse_truncate BEFORE TRUNCATE ON {t}
       FOR EACH STATEMENT EXECUTE FUNCTION decisions_refuse_change()""",
    "ALTER TABLE {t} ENABLE ALWAYS TRIGGER {t}_refuse_truncate",
]

_PG_EVENTS_INSERT = [
    "DROP TRIGGER IF EXISTS events_next_seq ON events",
    """CREATE TRIGGER events_next_seq BEFORE INSERT ON events
       FOR EACH ROW EXECUTE FUNCTION decisions_events_next_seq()""",
    "ALTER TABLE events ENABLE ALWAYS TRIGGER events_next_seq",
]

# The application's role may read and append, nothing else. Creating roles needs
# privileges a migration may not have: then the operator grants by hand (README).
_PG_ROLE = """DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'decisions_app') THEN
    CREATE ROLE decisions_app NOLOGIN;
  END IF;
  GRANT SELECT, INSERT ON events, checkpoints TO decisions_app;
  REVOKE UPDATE, DELETE, TRUNCATE ON events, checkpoints FROM decisions_app;
  GRANT SELECT, INSERT, UPDATE, DELETE ON decisions, log_head, api_tokens, idempotency_keys,
    policy_versions TO decisions_app;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'could not create or grant the decisions_app role; grant it by hand';
END $$"""


def install_guards(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        for table in APPEND_ONLY_TABLES:
            for statement in _SQLITE:
                conn.execute(text(statement.format(t=table)))
        conn.execute(text(_SQLITE_EVENTS_INSERT))
    elif conn.dialect.name == "postgresql":
        conn.execute(text(_PG_FUNCTION))
        conn.execute(text(_PG_EVENTS_INSERT_FUNCTION))
        for table in APPEND_ONLY_TABLES:
            for statement in _PG:
                conn.execute(text(statement.format(t=table)))
        for statement in _PG_EVENTS_INSERT:
            conn.execute(text(statement))
        conn.execute(text(_PG_ROLE))
    else:
        raise RuntimeError(f"no append-only guards for the {conn.dialect.name} dialect")


def installed_guards(conn: Connection) -> set[str]:
    """Names of the guard triggers present in the database (`guard_problems` says what is wrong with them)."""
    if conn.dialect.name == "sqlite":
        rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
    else:
        rows = conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"))
    return {row[0] for row in rows}


def _normalised(sql: str) -> str:
    return " ".join(sql.split())


# What `decisions db check` expects of each trigger. SQLite stores a trigger's CREATE text
# verbatim (without IF NOT EXISTS), so any change to a guard shows as different text.
def _expected_sqlite() -> dict[str, tuple[str, str]]:
    statements = [s.format(t=t) for t in APPEND_ONLY_TABLES for s in _SQLITE] + [_SQLITE_EVENTS_INSERT]
    out = {}
    for statement in statements:
        sql = statement.replace("IF NOT EXISTS ", "")
        name, table = sql.split()[2], sql.split(" ON ", 1)[1].split()[0]
        out[name] = (table, _normalised(sql))
    return out


# PostgreSQL: (table, tgtype bits, function). tgtype: ROW 1, BEFORE 2, INSERT 4, DELETE 8, UPDATE 16, TRUNCATE 32.
_PG_EXPECTED = {
    **{f"{t}_refuse_change": (t, 1 | 2 | 8 | 16, "decisions_refuse_change") for t in APPEND_ONLY_TABLES},
    **{f"{t}_refuse_truncate": (t, 2 | 32, "decisions_refuse_change") for t in APPEND_ONLY_TABLES},
    "events_next_seq": ("events", 1 | 2 | 4, "decisions_events_next_seq"),
}


def _function_body(create: str) -> str:
    return _normalised(create.split("$$")[1])


_PG_FUNCTIONS = {
    "decisions_refuse_change": _function_body(_PG_FUNCTION),
    "decisions_events_next_seq": _function_body(_PG_EVENTS_INSERT_FUNCTION),
}

_PG_TRIGGERS = text(
    """SELECT t.tgname, c.relname, t.tgenabled, t.tgtype, p.proname, p.prosrc
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
       WHERE NOT t.tgisinternal AND c.relnamespace = to_regnamespace(current_schema())"""
)


def guard_problems(conn: Connection) -> list[str]:
    """Every way the append-only triggers differ from what `install_guards` creates, one sentence each.

    PostgreSQL: each trigger must exist on its table, fire on the right operations, call the
    unaltered function, and be ENABLE ALWAYS (`tgenabled` 'A'): `ALTER TABLE ... ENABLE TRIGGER`
    leaves 'O', which `session_replication_role = replica` silently skips.
    SQLite: each trigger's stored SQL must be exactly the one installed.
    """
    problems = []
    if conn.dialect.name == "sqlite":
        rows = conn.execute(text("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'"))
        found = {name: (table, _normalised(sql or "")) for name, table, sql in rows}
        for name, (table, sql) in _expected_sqlite().items():
            if name not in found:
                problems.append(f"the append-only trigger {name} on {table} is missing")
            elif found[name] != (table, sql):
                problems.append(f"the append-only trigger {name} on {table} was altered: its SQL is not as installed")
        return problems
    if conn.dialect.name != "postgresql":
        return [f"no append-only guards are known for the {conn.dialect.name} dialect"]
    triggers = {row.tgname: row for row in conn.execute(_PG_TRIGGERS)}
    for name, (table, kind, function) in _PG_EXPECTED.items():
        row = triggers.get(name)
        if row is None or row.relname != table:
            problems.append(f"the append-only trigger {name} on {table} is missing")
            continue
        enabled = row.tgenabled.decode() if isinstance(row.tgenabled, bytes) else row.tgenabled
        if enabled != "A":
            state = {"O": "ENABLE (origin only)", "D": "DISABLED", "R": "ENABLE REPLICA"}.get(enabled, repr(enabled))
            problems.append(
                f"the append-only trigger {name} on {table} is {state}, not ENABLE ALWAYS: "
                "sessions with session_replication_role = replica bypass it"
            )
        if row.tgtype != kind or row.proname != function:
            problems.append(f"the append-only trigger {name} on {table} was altered: it no longer fires as installed")
        elif _normalised(row.prosrc) != _PG_FUNCTIONS[function]:
            problems.append(f"the function {function} behind {name} was altered: its body is not the installed one")
    return problems


def expected_guards(dialect: str) -> set[str]:
    if dialect == "sqlite":
        names = {f"{t}_refuse_{op}" for t in APPEND_ONLY_TABLES for op in ("update", "delete")}
        return names | {"events_append_only_insert"}
    names = {f"{t}_refuse_{op}" for t in APPEND_ONLY_TABLES for op in ("change", "truncate")}
    return names | {"events_next_seq"}


def grant_to_app(table: str) -> str:
    """PostgreSQL: let the application role (where the guards made one) keep a trigger-maintained table.

    The triggers run as the writer, so the role needs every right on the table; a migration run by
    someone who may not grant leaves a notice instead of failing the upgrade."""
    return f"""DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'decisions_app') THEN
    GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO decisions_app;
  END IF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'could not grant {table} to decisions_app; grant it by hand';
END $$"""
