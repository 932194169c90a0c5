"""The log's verification off the serving path (issue 17 b, c): the /audit page, filing latency while a full
verification runs in the worker against idle, and `decisions serve` start-up with a signed checkpoint.

`python -m bench --only verify-paths [--read-sizes 10000,1000000] [--read-backends sqlite,postgresql]`.
The /audit page is also a row of the read-paths section (registered below). Rows that file decisions
run on a copy of the cached history: the cache is shared, and the PostgreSQL copy is reused only while
its log has the generated size.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.http_rows import PG, _port
from bench.read_paths import CACHE, Target, operation, postgres_history, sqlite_history
from bench.timing import Row

#: Filing latency while a full verification runs may be this much above idle (issue 17).
FILING_RATIO = 1.5
IDLE_FILINGS = 60


def _env(database_url: str, state_dir: Path) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url, "DECISIONS_STATE_DIR": str(state_dir),
            "DECISIONS_POLICY": "policies.yaml"}  # fmt: skip


def _verified(database_url: str, state_dir: Path) -> None:
    """A stored full verification (the worker, waited for): what the page shows and resumes from."""
    subprocess.run([sys.executable, "-m", "engine.log.verify_worker", "full", "--wait"],
                   env=_env(database_url, state_dir), check=False, stdout=subprocess.DEVNULL)  # fmt: skip


def _signed_in(base: str, token: str) -> Any:
    import httpx

    web = httpx.Client(timeout=120, base_url=base)
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', web.get("/login").text)
    assert csrf
    web.post("/login", data={"token": token, "next": "/", "_csrf_token": csrf.group(1)})
    return web


@operation("/audit page (stored results, the tail checked since)")
def _audit_page(t: Target) -> Callable[[], object]:
    _verified(t.database_url, t.state_dir)
    web = _signed_in(t.base, t.tokens["ann"])

    def page() -> object:
        response = web.get("/audit")
        if response.status_code != 200 or 'data-testid="verify-status">Verified' not in response.text:
            raise RuntimeError(f"/audit: {response.status_code} {response.text[:200]}")
        return response

    return page


# -- copies of a history (rows that append) ------------------------------------------------------------------


@contextmanager
def history_copy(backend: str, size: int) -> Iterator[str]:
    """A database URL holding a throw-away copy of the cached history."""
    from engine.runtime import upgrade_database

    source = sqlite_history(size)
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            path = Path(tmp) / "copy.db"
            shutil.copyfile(source, path)
            url = f"sqlite:///{path}"
            upgrade_database(url)
            yield url
        return
    import psycopg

    cached = postgres_history(size)
    src = re.search(r"search_path%3D(\w+)", cached)
    assert src
    schema = f"bench_verify_copy_{size}"
    raw = PG.replace("+psycopg", "")
    url = f"{PG}?options=-csearch_path%3D{schema}"
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    upgrade_database(url)
    try:
        with psycopg.connect(raw, options=f"-csearch_path={schema}") as conn:
            # The same bulk copy as bench.read_paths.postgres_history, server-side from the cached schema.
            modes = conn.execute(
                "SELECT c.relname, t.tgname, t.tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND NOT t.tgisinternal",
                (schema,),
            ).fetchall()
            for table, trigger, _ in modes:
                conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
            tables = [r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename <> 'alembic_version'", (schema,)
            )]  # fmt: skip
            for table in tables:
                conn.execute(f"DELETE FROM {schema}.{table}")
                columns = [r[0] for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
                    (schema, table),
                )]  # fmt: skip
                names = ", ".join(columns)
                conn.execute(f"INSERT INTO {schema}.{table} ({names}) SELECT {names} FROM {src.group(1)}.{table}")
            for table, trigger, mode in modes:  # each back as it was (the guards ALWAYS)
                how = {"A": "ENABLE ALWAYS", "R": "ENABLE REPLICA"}.get(mode, "ENABLE")
                conn.execute(f"ALTER TABLE {table} {how} TRIGGER {trigger}")
            for seq in conn.execute(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = %s", (schema,)
            ).fetchall():  # fmt: skip
                table = seq[0].removesuffix("_id_seq")
                conn.execute(
                    f"SELECT setval('{schema}.{seq[0]}', coalesce((SELECT max(id) FROM {schema}.{table}), 0) + 1)"
                )
            conn.commit()
        with psycopg.connect(raw, autocommit=True, options=f"-csearch_path={schema}") as conn:
            conn.execute("VACUUM ANALYZE")
        yield url
    finally:
        with psycopg.connect(raw, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _decisions() -> str:
    return shutil.which("decisions", path=str(Path(sys.executable).parent)) or "decisions"


@contextmanager
def serving(database_url: str, state_dir: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], dict[str, str]]]:
    from engine.runtime import open_runtime

    os.environ["DECISIONS_STATE_DIR"] = str(state_dir)
    rt = open_runtime(database_url, "policies.yaml")
    tokens = {who: rt.service.create_token(who) for who in ("jon", "ann", "adm")}
    rt.close()
    port = _port()
    started = time.perf_counter()
    proc = subprocess.Popen([_decisions(), "serve", "--port", str(port)], env=_env(database_url, state_dir),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _up(base, proc)
        tokens["_startup"] = str(time.perf_counter() - started)
        yield base, proc, tokens
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _up(base: str, proc: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code in (200, 503):
                return
        except httpx.HTTPError:
            time.sleep(0.02)
    raise RuntimeError("server did not start")


def _peak_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# -- the rows --------------------------------------------------------------------------------------------------


def _filing_latency(base: str, token: str) -> Callable[[], float]:
    import httpx

    client = httpx.Client(timeout=120)
    body = {"title": "bench filing", "category": "pipeline", "attributes": {"risk_score": 1}}

    def file_one() -> float:
        started = time.perf_counter()
        response = client.post(f"{base}/v1/decisions", json=body, headers={"Authorization": f"Bearer {token}"})
        if response.status_code != 201:
            raise RuntimeError(f"filing: {response.status_code} {response.text[:200]}")
        return time.perf_counter() - started

    return file_one


def filing_rows(backend: str, size: int, label: str) -> list[Row]:
    """Median filing latency idle, then while the worker's full verification (started by the API) runs."""
    import httpx

    from engine.log.job_lock import job_running
    from engine.store.db import create_db_engine

    with (
        history_copy(backend, size) as url,
        tempfile.TemporaryDirectory(dir=CACHE) as state,
        serving(url, Path(state)) as (base, _, tokens),
    ):
        file_one = _filing_latency(base, tokens["jon"])
        for _ in range(5):
            file_one()
        idle = statistics.median(file_one() for _ in range(IDLE_FILINGS))
        engine = create_db_engine(url)
        try:
            asked = httpx.post(f"{base}/v1/log/verify", headers={"Authorization": f"Bearer {tokens['adm']}"})
            assert asked.status_code == 202 and asked.json()["started"], asked.text
            deadline = time.monotonic() + 10
            while not job_running(engine) and time.monotonic() < deadline:
                time.sleep(0.01)
            during = []
            while job_running(engine):
                during.append(file_one())
        finally:
            engine.dispose()
    if not during:
        return []
    busy = statistics.median(during)
    ok = busy <= FILING_RATIO * idle
    return [Row("verify paths", f"filing latency while a full verification runs in the worker, {label}, "
                f"{size:,} decisions ({len(during)} filings)", busy, "s", idle, "idle", f"<= {FILING_RATIO:g}x",
                "ok" if ok else "over goal")]  # fmt: skip


def _startup(url: str, state: Path) -> tuple[float, float]:
    times, peaks = [], []
    for _ in range(3):
        with serving(url, state) as (_, proc, tokens):
            times.append(float(tokens["_startup"]))
            peaks.append(_peak_mb(proc.pid))
    return statistics.median(times), statistics.median(peaks)


def startup_rows(backend: str, sizes: tuple[int, int], label: str) -> list[Row]:
    """`decisions serve` to its first answer, and its peak resident memory, with a checkpoint of the whole log:
    streaming every signed leaf hash once, then resuming from a stored verification that covers the checkpoint."""
    from engine.runtime import upgrade_database

    cold: dict[int, tuple[float, float]] = {}
    stored: dict[int, tuple[float, float]] = {}
    for size in sizes:
        url = f"sqlite:///{sqlite_history(size)}" if backend == "sqlite" else postgres_history(size)
        state = CACHE / f"state-startup-{backend}-{size}"
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            # A copy: the stored verification below must not follow the shared cache into other rows.
            copy = url
            if backend == "sqlite":
                copy = f"sqlite:///{Path(tmp) / 'copy.db'}"
                shutil.copyfile(sqlite_history(size), Path(tmp) / "copy.db")
            upgrade_database(copy)  # a history cached by an older schema gets this one's migrations
            env = _env(copy, state)
            subprocess.run([_decisions(), "log", "checkpoint", "-o", os.devnull], env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            cold[size] = _startup(copy, state)
            if backend == "sqlite":
                _verified(copy, state)
                stored[size] = _startup(copy, state)
    small, large = min(sizes), max(sizes)
    out = []
    for how, figures in (("", cold), (", from a stored verification", stored)):
        if not figures:
            continue
        (t0, m0), (t1, m1) = figures[small], figures[large]
        out += [
            Row("verify paths", f"decisions serve start-up with a signed checkpoint{how}, {label}, {large:,} "
                "decisions", t1, "s", t0, f"{small:,} decisions", "<= 2x", "ok" if t1 <= 2 * t0 else "over goal"),
            Row("verify paths", f"decisions serve peak memory with a signed checkpoint{how}, {label}, {large:,} "
                "decisions", m1, "MB", m0, f"{small:,} decisions", "<= 1.2x (constant)",
                "ok" if m1 <= 1.2 * m0 else "over goal"),
        ]  # fmt: skip
    return out


def rows(sizes: tuple[int, ...], backends: tuple[str, ...] = ("sqlite", "postgresql")) -> list[Row]:
    small, large = min(sizes), max(sizes)
    out: list[Row] = []
    for backend in backends:
        label = "SQLite" if backend == "sqlite" else "PostgreSQL"
        try:
            out += filing_rows(backend, large, label)
        except Exception as exc:  # one broken row must not lose the rest of a long run
            print(f"verify paths, filing ({backend}): {exc!r}", file=sys.stderr)
        try:
            out += startup_rows(backend, (small, large), label)
        except Exception as exc:
            print(f"verify paths, start-up ({backend}): {exc!r}", file=sys.stderr)
    return out
