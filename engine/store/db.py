"""Database engines: SQLite (embedded default) and PostgreSQL, configured for a durable log."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msgspec
from sqlalchemy import Connection, Engine, create_engine, event

DEFAULT_DATABASE_URL = "sqlite:///decisions.db"

#: Execution option that makes a SQLite transaction start with BEGIN IMMEDIATE.
WRITE_OPTION = "decisions_write"


def database_url_from_env() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def normalise_url(url: str) -> str:
    # Users write postgresql://; we ship psycopg 3, not psycopg2.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _json_text(value: Any) -> str:
    return _json_encoder.encode(value).decode()


_json_encoder = msgspec.json.Encoder()
_json_decoder = msgspec.json.Decoder()


def create_db_engine(url: str | None = None, **kwargs: Any) -> Engine:
    url = normalise_url(url or database_url_from_env())
    # The read model's JSON columns, written by msgspec: the stdlib encoder was a tenth of a filing.
    # (The log's bodies are not JSON columns: they keep their canonical stdlib bytes.)
    kwargs.setdefault("json_serializer", _json_text)
    # And read back by msgspec: the stdlib decoder was a third of a 1M-history digest (each row's approvals).
    kwargs.setdefault("json_deserializer", _json_decoder.decode)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, isolation_level="READ COMMITTED", **kwargs)

    @event.listens_for(engine, "connect")
    def _utc_session(dbapi_connection: Any, _record: Any) -> None:
        # Every time is stored and compared in UTC; a server whose default zone is another (or Etc/UTC,
        # which psycopg maps to a ZoneInfo) would hand back each timestamp for a per-row conversion.
        # Under 'UTC' psycopg returns datetime.UTC itself, which UTCDateTime passes through as it is.
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")
        dbapi_connection.commit()

    return engine


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", 30)
    if ":memory:" in url or url in {"sqlite://", "sqlite:///"}:
        raise ValueError("an in-memory SQLite database cannot hold a durable log; give a file path")
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN out of pysqlite's hands so we can say BEGIN IMMEDIATE ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged decision survives a power loss, which the log promises.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Makes REPLACE's implicit delete fire the append-only DELETE trigger too.
        cursor.execute("PRAGMA recursive_triggers=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock at BEGIN: reading the chain head and appending must
        # not interleave with another writer (a deferred BEGIN would upgrade too late).
        if conn.get_execution_options().get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that may append to the log: serialised on both backends."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            yield conn


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn, conn.begin():
        yield conn
