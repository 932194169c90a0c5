"""Free-text search over decisions (titles, rationales, comments) with each database's own index.

SQLite: an FTS5 table `decision_search` (porter stemming) whose rowid is the decision's `filed_seq`.
PostgreSQL: a table `decision_search(filed_seq, document tsvector)` with a GIN index, English stemming.

Triggers keep the index in the transaction that writes the read model: on `decisions` (filing,
amending, `decisions log rebuild`) and on `events` for `comment_added`. A decision's comments are
read back from its events, so the index never holds text the log does not. Alembic batch operations
on SQLite recreate a table and drop its triggers: a migration that touches `decisions` must call
`install_search` again.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, TextClause, text

from engine.store.guards import grant_to_app

SEARCH_TABLE = "decision_search"
#: Tables the migrations own outside the SQLModel metadata (autogenerate must not drop them).
SEARCH_TABLES = frozenset(
    {SEARCH_TABLE, *(f"{SEARCH_TABLE}_{s}" for s in ("data", "idx", "content", "docsize", "config"))}
)
MAX_QUERY = 200

_COMMENTS_SQLITE = (
    "COALESCE((SELECT group_concat(json_extract(e.body, '$.data.text'), ' ') FROM events e"
    " WHERE e.decision_id = NEW.id AND e.type = 'comment_added'), '')"
)
_INSERT_SQLITE = (
    "INSERT INTO decision_search (rowid, title, rationale, comments)"
    f" VALUES (NEW.filed_seq, NEW.title, COALESCE(NEW.rationale, ''), {_COMMENTS_SQLITE});"
)
_SQLITE = [
    f"""CREATE VIRTUAL TABLE IF NOT EXISTS {SEARCH_TABLE} USING fts5(title, rationale, comments,
        tokenize = 'porter unicode61 remove_diacritics 2')""",
    f"CREATE TRIGGER IF NOT EXISTS decision_search_insert AFTER INSERT ON decisions BEGIN {_INSERT_SQLITE} END",
    # Approvals and status changes leave the text alone: only a new title or rationale re-indexes.
    f"""CREATE TRIGGER IF NOT EXISTS decision_search_update AFTER UPDATE ON decisions
        WHEN OLD.title IS NOT NEW.title OR OLD.rationale IS NOT NEW.rationale
        BEGIN DELETE FROM {SEARCH_TABLE} WHERE rowid = OLD.filed_seq; {_INSERT_SQLITE} END""",
    # A comment reaches the table when its event does (the events of a write land at its end, after the
    # read model's rows, in the same transaction).
    f"""CREATE TRIGGER IF NOT EXISTS decision_search_comment AFTER INSERT ON events
        WHEN NEW.type = 'comment_added'
        BEGIN
          DELETE FROM {SEARCH_TABLE} WHERE rowid = (SELECT filed_seq FROM decisions WHERE id = NEW.decision_id);
          INSERT INTO {SEARCH_TABLE} (rowid, title, rationale, comments)
            SELECT d.filed_seq, d.title, COALESCE(d.rationale, ''), {_COMMENTS_SQLITE.replace("NEW.id", "d.id")}
            FROM decisions d WHERE d.id = NEW.decision_id;
        END""",
    f"""CREATE TRIGGER IF NOT EXISTS decision_search_delete AFTER DELETE ON decisions
        BEGIN DELETE FROM {SEARCH_TABLE} WHERE rowid = OLD.filed_seq; END""",
]
_SQLITE_BACKFILL = f"""INSERT INTO {SEARCH_TABLE} (rowid, title, rationale, comments)
    SELECT d.filed_seq, d.title, COALESCE(d.rationale, ''),
      COALESCE((SELECT group_concat(json_extract(e.body, '$.data.text'), ' ') FROM events e
                WHERE e.decision_id = d.id AND e.type = 'comment_added'), '')
    FROM decisions d"""

_PG_DOCUMENT = (
    "setweight(to_tsvector('english'::regconfig, {title}), 'A')"
    " || setweight(to_tsvector('english'::regconfig, COALESCE({rationale}, '')), 'B')"
    " || setweight(to_tsvector('english'::regconfig, {comments}), 'C')"
)
_PG_COMMENTS = (
    "(SELECT COALESCE(string_agg((e.body::jsonb) -> 'data' ->> 'text', ' ' ORDER BY e.seq), '') FROM events e"
    " WHERE e.decision_id = {id} AND e.type = 'comment_added')"
)
_PG_BACKFILL_DOCUMENT = _PG_DOCUMENT.format(
    title="d.title", rationale="d.rationale", comments=_PG_COMMENTS.format(id="d.id")
)
_PG = [
    f"""CREATE TABLE IF NOT EXISTS {SEARCH_TABLE} (
        filed_seq BIGINT PRIMARY KEY, document TSVECTOR NOT NULL)""",
    f"CREATE INDEX IF NOT EXISTS ix_{SEARCH_TABLE}_document ON {SEARCH_TABLE} USING GIN (document)",
    f"""CREATE OR REPLACE FUNCTION decisions_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM {SEARCH_TABLE} WHERE filed_seq = OLD.filed_seq;
    RETURN OLD;
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.title IS NOT DISTINCT FROM OLD.title
     AND NEW.rationale IS NOT DISTINCT FROM OLD.rationale THEN
    RETURN NEW;
  END IF;
  INSERT INTO {SEARCH_TABLE} (filed_seq, document)
    VALUES (NEW.filed_seq, {
        _PG_DOCUMENT.format(title="NEW.title", rationale="NEW.rationale", comments=_PG_COMMENTS.format(id="NEW.id"))
    })
    ON CONFLICT (filed_seq) DO UPDATE SET document = EXCLUDED.document;
  RETURN NEW;
END $$""",
    "DROP TRIGGER IF EXISTS decisions_search_sync ON decisions",
    """CREATE TRIGGER decisions_search_sync AFTER INSERT OR UPDATE OR DELETE ON decisions
       FOR EACH ROW EXECUTE FUNCTION decisions_search_sync()""",
    # A comment reaches the index when its event does (a write's events land at its end, after the rows).
    f"""CREATE OR REPLACE FUNCTION decisions_search_comment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {SEARCH_TABLE} (filed_seq, document)
    SELECT d.filed_seq, {_PG_BACKFILL_DOCUMENT} FROM decisions d WHERE d.id = NEW.decision_id
    ON CONFLICT (filed_seq) DO UPDATE SET document = EXCLUDED.document;
  RETURN NEW;
END $$""",
    "DROP TRIGGER IF EXISTS events_search_comment ON events",
    """CREATE TRIGGER events_search_comment AFTER INSERT ON events
       FOR EACH ROW WHEN (NEW.type = 'comment_added') EXECUTE FUNCTION decisions_search_comment()""",
    grant_to_app(SEARCH_TABLE),
]
_PG_BACKFILL = f"""INSERT INTO {SEARCH_TABLE} (filed_seq, document)
    SELECT d.filed_seq, {_PG_BACKFILL_DOCUMENT}
    FROM decisions d
    ON CONFLICT (filed_seq) DO NOTHING"""


def backfill_statement(dialect: str) -> str:
    """The statement that indexes every decision already in the read model (for bulk loads)."""
    return _SQLITE_BACKFILL if dialect == "sqlite" else _PG_BACKFILL


def install_search(conn: Connection, backfill: bool = True) -> None:
    """Create the search index and the triggers that keep it, and index the decisions already there."""
    if conn.dialect.name == "sqlite":
        for statement in _SQLITE:
            conn.execute(text(statement))
        if backfill:
            conn.execute(text(f"DELETE FROM {SEARCH_TABLE}"))
            conn.execute(text(_SQLITE_BACKFILL))
    elif conn.dialect.name == "postgresql":
        for statement in _PG:
            conn.execute(text(statement))
        if backfill:
            conn.execute(text(_PG_BACKFILL))
    else:
        raise RuntimeError(f"no free-text search for the {conn.dialect.name} dialect")


def drop_search(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        for trigger in ("insert", "update", "delete", "comment"):
            conn.execute(text(f"DROP TRIGGER IF EXISTS decision_search_{trigger}"))
        conn.execute(text(f"DROP TABLE IF EXISTS {SEARCH_TABLE}"))
    else:
        conn.execute(text("DROP TRIGGER IF EXISTS decisions_search_sync ON decisions"))
        conn.execute(text("DROP FUNCTION IF EXISTS decisions_search_sync()"))
        conn.execute(text("DROP TRIGGER IF EXISTS events_search_comment ON events"))
        conn.execute(text("DROP FUNCTION IF EXISTS decisions_search_comment()"))
        conn.execute(text(f"DROP TABLE IF EXISTS {SEARCH_TABLE}"))


_WORD = re.compile(r"\w+")


def search_terms(query: str) -> list[str]:
    """The words of a search, as both backends read them (punctuation and operators are not syntax here)."""
    return _WORD.findall(query)


def matching_seqs(dialect: str, query: str) -> TextClause:
    """`decisions.filed_seq IN (...)`: the decisions whose title, rationale or comments hold every word."""
    terms = search_terms(query)
    if dialect == "sqlite":
        # Each word quoted: FTS5 reads it as a plain term (AND between them), never as its query syntax.
        match = " ".join('"' + t.replace('"', '""') + '"' for t in terms)
        return text(f"decisions.filed_seq IN (SELECT rowid FROM {SEARCH_TABLE} WHERE {SEARCH_TABLE} MATCH :search_q)")\
            .bindparams(search_q=match)  # fmt: skip
    return text(
        f"decisions.filed_seq IN (SELECT filed_seq FROM {SEARCH_TABLE}"
        " WHERE document @@ plainto_tsquery('english'::regconfig, :search_q))"
    ).bindparams(search_q=" ".join(terms))
