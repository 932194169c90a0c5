"""The HTTP floor: a minimal Litestar endpoint that does the same durable append with the raw driver.

It parses the JSON body, hashes it onto a chain, inserts one row and moves the head in one
transaction (SQLite: WAL, synchronous=FULL, BEGIN IMMEDIATE; PostgreSQL: the head row locked),
and answers 201. No policy, no validation beyond JSON, no read model: the least any
governance service must do per filing.
"""

from __future__ import annotations

import gc
import hashlib
import os
import sqlite3
import threading
from typing import Any

import msgspec
from litestar import Litestar, Request, post

URL = os.environ["FLOOR_DATABASE"]
_local = threading.local()
_lock = threading.Lock()


def _sqlite() -> sqlite3.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(URL, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        _local.conn = conn
    return conn


def _pg() -> Any:
    import psycopg

    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = psycopg.connect(URL)
        _local.conn = conn
    return conn


def setup() -> None:
    if URL.startswith("postgresql"):
        with _pg() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS floor_events (seq bigint PRIMARY KEY, body text, hash text)")
            conn.execute("CREATE TABLE IF NOT EXISTS floor_head (id int PRIMARY KEY, size bigint, hash text)")
            conn.execute("INSERT INTO floor_head VALUES (1, 0, '') ON CONFLICT DO NOTHING")
        _local.conn = None
    else:
        conn = _sqlite()
        conn.execute("CREATE TABLE IF NOT EXISTS floor_events (seq INTEGER PRIMARY KEY, body TEXT, hash TEXT)")
        conn.execute("CREATE TABLE IF NOT EXISTS floor_head (id INTEGER PRIMARY KEY, size INTEGER, hash TEXT)")
        conn.execute("INSERT OR IGNORE INTO floor_head VALUES (1, 0, '')")


def append_sqlite(body: bytes) -> int:
    conn = _sqlite()
    conn.execute("BEGIN IMMEDIATE")
    try:
        size, prev = conn.execute("SELECT size, hash FROM floor_head WHERE id = 1").fetchone()
        digest = hashlib.sha256(b"\x00" + prev.encode() + body).hexdigest()
        conn.execute("INSERT INTO floor_events VALUES (?, ?, ?)", (size, body.decode(), digest))
        conn.execute("UPDATE floor_head SET size = ?, hash = ? WHERE id = 1", (size + 1, digest))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return int(size)


def append_pg(body: bytes) -> int:
    conn = _pg()
    with conn.transaction():
        size, prev = conn.execute("SELECT size, hash FROM floor_head WHERE id = 1 FOR UPDATE").fetchone()
        digest = hashlib.sha256(b"\x00" + prev.encode() + body).hexdigest()
        conn.execute("INSERT INTO floor_events VALUES (%s, %s, %s)", (size, body.decode(), digest))
        conn.execute("UPDATE floor_head SET size = %s, hash = %s WHERE id = 1", (size + 1, digest))
    return int(size)


APPEND = append_pg if URL.startswith("postgresql") else append_sqlite


@post("/file", sync_to_thread=True, status_code=201)
def file(request: Request[Any, Any, Any], data: dict[str, Any]) -> dict[str, int]:
    return {"seq": APPEND(msgspec.json.encode(data))}


def freeze_heap() -> None:
    # What the service does after start-up (api/heap.py), so the floor is not slowed by the collector either.
    gc.collect()
    gc.freeze()


app = Litestar([file], on_startup=[setup, freeze_heap])
