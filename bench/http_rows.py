"""Filing over HTTP under wrk (32 connections on loopback): ours vs the raw-driver floor, SQLite and PostgreSQL.

Each floor and group-commit figure is the median of ROUNDS runs, floor and ours alternating, each on
a fresh database; the one-transaction-per-filing figure is one run.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

from bench.timing import Row

BODY = '{"title":"bench filing","category":"pipeline","attributes":{"risk_score":12},"rationale":"load"}'
PG = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # up, even if the probe path answers 4xx
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def _wrk(url: str, token: str | None, seconds: int, home: Path) -> tuple[float, float]:
    script = home / "post.lua"
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"\n' if token else ""
    script.write_text(
        f'wrk.method = "POST"\nwrk.body = \'{BODY}\'\nwrk.headers["Content-Type"] = "application/json"\n{auth}'
    )
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99, out
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0}[p99.group(2)]
    if "Non-2xx" in out:
        raise RuntimeError("errors under load:\n" + out)
    return rps, float(p99.group(1)) * scale


def _pg_schema_url() -> tuple[str, str]:
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return f"{PG}?options=-csearch_path%3D{schema}", schema


def _serve_ours(database_url: str, workers: int, home: Path, seconds: int, group_commit: bool = True
                ) -> tuple[float, float]:  # fmt: skip
    from engine.runtime import open_runtime, upgrade_database

    state = home / f"state-{uuid.uuid4().hex[:8]}"  # each database its own signing state
    env = {**os.environ, "DATABASE_URL": database_url, "DECISIONS_STATE_DIR": str(state),
           "DECISIONS_POLICY": "policies.yaml", "DECISIONS_GROUP_COMMIT": "1" if group_commit else "0"}  # fmt: skip
    upgrade_database(database_url)
    os.environ["DECISIONS_STATE_DIR"] = env["DECISIONS_STATE_DIR"]
    rt = open_runtime(database_url, "policies.yaml")
    token = rt.service.create_token("mei")
    rt.close()
    port = _port()
    decisions = shutil.which("decisions", path=str(Path(sys.executable).parent)) or "decisions"
    proc = subprocess.Popen([decisions, "serve", "--port", str(port), "--workers", str(workers)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        _wait(f"http://127.0.0.1:{port}/healthz", proc)
        _wrk(f"http://127.0.0.1:{port}/v1/decisions", token, 2, home)  # warm-up
        return _wrk(f"http://127.0.0.1:{port}/v1/decisions", token, seconds, home)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _serve_floor(database: str, workers: int, home: Path, seconds: int) -> tuple[float, float]:
    port = _port()
    env = {**os.environ, "FLOOR_DATABASE": database}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.floor_app:app", "--port", str(port), "--workers", str(workers),
         "--log-level", "warning", "--no-access-log"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait(f"http://127.0.0.1:{port}/file", proc)
        _wrk(f"http://127.0.0.1:{port}/file", None, 2, home)
        return _wrk(f"http://127.0.0.1:{port}/file", None, seconds, home)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


#: Floor and ours are measured this many times each, alternately, and the medians reported: on a
#: shared 2-core VM one run of the SQLite floor moved between 1,800 and 2,400 req/s.
ROUNDS = 3


def _medians(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def _alternating(floor: Callable[[], tuple[float, float]], ours: Callable[[], tuple[float, float]]
                 ) -> tuple[tuple[float, float], tuple[float, float]]:  # fmt: skip
    floors, ourses = [], []
    for _ in range(ROUNDS):
        floors.append(floor())
        ourses.append(ours())
    return _medians(floors), _medians(ourses)


def rows(seconds: int) -> list[Row]:
    if shutil.which("wrk") is None:
        return [Row("http", "not measured: wrk missing (apt-get install -y wrk)", 0, "req/s")]
    home = Path(tempfile.mkdtemp(prefix="bench-http-"))
    out: list[Row] = []

    def pair(label: str, ours: tuple[float, float], floor: tuple[float, float], naive: tuple[float, float]) -> None:
        ok_rps = ours[0] >= 0.6 * floor[0]
        ok_p99 = ours[1] <= 1.5 * floor[1]
        out.append(Row("http", f"floor {label} (raw driver) req/s", floor[0], "req/s", floor[0], "itself",
                       higher_is_better=True))  # fmt: skip
        out.append(Row("http", f"decision-rights {label}, one transaction per filing req/s", naive[0], "req/s",
                       floor[0], "raw driver", higher_is_better=True))  # fmt: skip
        out.append(Row("http", f"decision-rights {label}, group commit (default) req/s", ours[0], "req/s", floor[0],
                       "raw driver", ">= 60% of floor", "ok" if ok_rps else "under target",
                       higher_is_better=True))  # fmt: skip
        out.append(Row("http", f"floor {label} p99", floor[1], "s", floor[1], "itself"))
        out.append(Row("http", f"decision-rights {label}, one transaction per filing p99", naive[1], "s", floor[1],
                       "raw driver"))  # fmt: skip
        out.append(Row("http", f"decision-rights {label}, group commit (default) p99", ours[1], "s", floor[1],
                       "raw driver", "<= 1.5x floor", "ok" if ok_p99 else "over target"))  # fmt: skip

    sqlite_naive = _serve_ours(f"sqlite:///{home / 'naive.db'}", 1, home, seconds, group_commit=False)
    sqlite_floor, sqlite_ours = _alternating(
        lambda: _serve_floor(str(home / f"floor-{uuid.uuid4().hex[:8]}.db"), 1, home, seconds),
        lambda: _serve_ours(f"sqlite:///{home / f'ours-{uuid.uuid4().hex[:8]}.db'}", 1, home, seconds),
    )
    pair("SQLite FULL, 1 worker", sqlite_ours, sqlite_floor, sqlite_naive)
    for workers in (1, 2):
        pg_naive = _serve_ours(_pg_schema_url()[0], workers, home, seconds, group_commit=False)
        pg_floor, pg_ours = _alternating(
            lambda w=workers: _serve_floor(_pg_schema_url()[0].replace("+psycopg", ""), w, home, seconds),
            lambda w=workers: _serve_ours(_pg_schema_url()[0], w, home, seconds),
        )
        pair(f"PostgreSQL, {workers} worker{'s' if workers > 1 else ''}", pg_ours, pg_floor, pg_naive)
    return out
