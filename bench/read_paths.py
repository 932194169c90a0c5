"""Read paths vs history: each interactive read at two history sizes, SQLite and PostgreSQL.

`python -m bench --only read-paths [--read-sizes 10000,1000000]`. For each size a history is
generated once (bench.generate: six filers in two squads, a constant ~1,900 filings a week, 1 %
of the tier-2/3 decisions left pending anywhere in it) and cached under /tmp keyed by its size,
the generator's version and the history's end: a SQLite file, copied into a PostgreSQL schema of
the same name. Every size ends at one instant (`history_end`), so the current review window
holds the same filings at both sizes and a row's ratio is the history's doing, not its answer's. A real
`decisions serve` answers over loopback HTTP; each operation is the median of 7 warm requests.
The table gives every operation at the large size against the small one, with the ratio.

Other rows join the same section through `OPERATIONS`: append an `Operation` (or use the
`operation` decorator) whose `setup` gets the served `Target` and returns either a callable (timed
here: 2 warm-up calls, then the median of 7) or a float of seconds it measured itself.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.http_rows import PG, _port, _wait
from bench.timing import Row, fmt

#: Bump when the generator's output changes: cached histories of another version are not reused.
GENERATOR_VERSION = 3
CACHE = Path(os.environ.get("BENCH_CACHE", "/tmp/decision-rights-bench"))
SIZES = (10_000, 1_000_000)
WEEKLY = 1_900
PENDING = 0.01
WARM, SAMPLES = 2, 7
#: Each read's goal at the large size (issue 17): under 50 ms, and within 2x of the small size.
GOAL_SECONDS, GOAL_RATIO = 0.050, 2.0


@dataclass
class Target:
    """One served history: the server's base URL, a bearer token per person, a signed-in web session."""

    backend: str
    size: int
    database_url: str
    base: str
    tokens: dict[str, str]
    state_dir: Path
    client: Any = None  # httpx.Client (keep-alive)
    web: Any = None  # httpx.Client with tomas signed in (cookies)
    notes: dict[str, Any] = field(default_factory=dict)

    def get(self, path: str, who: str | None = None, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        response = self.client.get(self.base + path, headers=headers, params=params or None)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} as {who}: {response.status_code} {response.text[:300]}")
        return response


Setup = Callable[[Target], "Callable[[], object] | float"]


@dataclass(frozen=True)
class Operation:
    name: str
    setup: Setup


#: The section's rows, in order. Other modules append to it (see the module docstring).
OPERATIONS: list[Operation] = []


def operation(name: str) -> Callable[[Setup], Setup]:
    def register(setup: Setup) -> Setup:
        OPERATIONS.append(Operation(name, setup))
        return setup

    return register


# -- the histories ------------------------------------------------------------------------------------------


def history_end() -> datetime:
    """The instant every cached history stops at: the first generation's time in the current weekly
    review window (recorded in the cache), so histories generated apart still share their last weeks
    and the current window is part-filled alike at every size. A new window starts new histories."""
    from engine.review.service import cadence_for
    from engine.review.windows import window_at
    from policy.loader import load_policy

    policy = load_policy("policies.yaml")
    now = datetime.now(UTC).replace(microsecond=0)
    window = window_at(cadence_for(policy, "weekly"), policy.timezone, now)
    record = CACHE / f"history-end-v{GENERATOR_VERSION}.json"
    key = window.start.isoformat()
    if record.exists():
        recorded = json.loads(record.read_text())
        if recorded.get("window") == key:
            return datetime.fromisoformat(recorded["end"])
    CACHE.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"window": key, "end": now.isoformat()}))
    return now


def _tag(size: int) -> str:
    return f"v{GENERATOR_VERSION}_{history_end():%Y%m%d%H%M%S}_{size}"


def sqlite_history(size: int) -> Path:
    """The generated SQLite history of `size` decisions ending at `history_end()`, built once and cached;
    histories of this version ending elsewhere are removed."""
    from bench.generate import FILERS, SPREAD, generate

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"history-{_tag(size)}.db"
    if path.exists():
        return path
    for stale in CACHE.glob(f"history-v*_{size}.*db*"):
        stale.unlink()
    partial = path.with_suffix(".partial.db")
    os.environ.setdefault("DECISIONS_STATE_DIR", str(CACHE / "generate-state"))
    generate(partial, size, end=history_end(), filers=FILERS, categories=SPREAD, weekly=WEEKLY,
             pending_share=PENDING)  # fmt: skip
    partial.rename(path)
    return path


def postgres_history(size: int) -> str:
    """The same history in a PostgreSQL schema (bench_history_v<version>_<size>), copied once and cached."""
    import psycopg

    source = sqlite_history(size)
    schema = f"bench_history_{_tag(size)}"
    url = f"{PG}?options=-csearch_path%3D{schema}"
    raw = PG.replace("+psycopg", "")
    with sqlite3.connect(source) as lite:
        expected = lite.execute("SELECT size FROM log_head").fetchone()[0]
    with psycopg.connect(raw, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
        if exists:
            done = conn.execute(f"SELECT to_regclass('{schema}.log_head')").fetchone()[0]
            if done is not None and conn.execute(f"SELECT size FROM {schema}.log_head").fetchone() == (expected,):
                return url
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
        # Copies of this size's earlier histories (another version or end): several GB each at 1M.
        for (stale,) in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench\\_history\\_%%' AND nspname LIKE %s "
            "AND nspname != %s",
            (f"%\\_{size}", schema),
        ).fetchall():
            conn.execute(f"DROP SCHEMA {stale} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    from engine.runtime import upgrade_database
    from engine.store.search import SEARCH_TABLES, backfill_statement

    upgrade_database(f"sqlite:///{source}")  # the same schema on both sides, whatever the cache's age
    upgrade_database(url)
    started = time.perf_counter()
    with psycopg.connect(raw, options=f"-csearch_path={schema}") as conn, sqlite3.connect(source) as lite:
        conn.execute("SET TIME ZONE 'UTC'")
        # A bulk load of a log that was chained and checked as it was written: the per-row
        # append guard is switched off for the copy and switched back on (ALWAYS) after it.
        conn.execute("ALTER TABLE events DISABLE TRIGGER events_next_seq")
        # The read model's counts come over as a table of their own: not counted twice on the way in.
        conn.execute("ALTER TABLE decisions DISABLE TRIGGER USER")
        # The search index is each database's own (FTS5 there, tsvector here): rebuilt below, not copied.
        conn.execute("ALTER TABLE events DISABLE TRIGGER events_search_comment")
        tables = [r[0] for r in lite.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            if table in {"alembic_version", "sqlite_sequence"} or table.startswith("sqlite_"):
                continue
            if table in SEARCH_TABLES:
                continue
            if table == "log_verifications":
                continue  # results about the SQLite file (the /audit row's worker), not about this copy
            if table == "log_head":
                conn.execute("DELETE FROM log_head")
            columns = [r[1] for r in lite.execute(f"PRAGMA table_info({table})")]
            names = ", ".join(columns)
            with conn.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in lite.execute(f"SELECT {names} FROM {table}"):
                    copy.write_row(row)
        conn.execute("ALTER TABLE events ENABLE ALWAYS TRIGGER events_next_seq")
        conn.execute("ALTER TABLE decisions ENABLE TRIGGER USER")
        conn.execute("ALTER TABLE events ENABLE TRIGGER events_search_comment")
        conn.execute(backfill_statement("postgresql"))  # in the copy's transaction: a cached schema is whole
        # Rows came over with their ids (checkpoints signed while the SQLite copy was served, ...): each id
        # sequence starts after them, or the server's first insert collides with a copied row.
        for table, column, sequence in conn.execute(
            "SELECT table_name, column_name, pg_get_serial_sequence(table_name, column_name) "
            "FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND pg_get_serial_sequence(table_name, column_name) IS NOT NULL"
        ).fetchall():
            conn.execute(f"SELECT setval('{sequence}', coalesce((SELECT max({column}) FROM {table}), 0) + 1, false)")
        conn.commit()
    with psycopg.connect(raw, autocommit=True, options=f"-csearch_path={schema}") as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"copied {size:,} decisions to PostgreSQL in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return url


# -- serving one ---------------------------------------------------------------------------------------------


@contextmanager
def served(backend: str, size: int) -> Iterator[Target]:
    import httpx

    from engine.runtime import open_runtime, upgrade_database

    database_url = f"sqlite:///{sqlite_history(size)}" if backend == "sqlite" else postgres_history(size)
    upgrade_database(database_url)  # a history cached by an older schema gets this one's migrations
    state = CACHE / f"state-{backend}-{size}"
    env = {**os.environ, "DATABASE_URL": database_url, "DECISIONS_STATE_DIR": str(state),
           "DECISIONS_POLICY": "policies.yaml"}  # fmt: skip
    previous = os.environ.get("DECISIONS_STATE_DIR")
    os.environ["DECISIONS_STATE_DIR"] = str(state)
    try:
        rt = open_runtime(database_url, "policies.yaml")
        tokens = {who: rt.service.create_token(who) for who in ("tomas", "jon", "dana", "ann", "adm")}
        rt.close()
    finally:
        if previous is None:
            os.environ.pop("DECISIONS_STATE_DIR", None)
        else:
            os.environ["DECISIONS_STATE_DIR"] = previous
    port = _port()
    decisions = shutil.which("decisions", path=str(Path(sys.executable).parent)) or "decisions"
    proc = subprocess.Popen([decisions, "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{base}/healthz", proc)
        with httpx.Client(timeout=120) as client, httpx.Client(timeout=120, base_url=base) as web:
            login = web.get("/login").text
            csrf = re.search(r'name="_csrf_token" value="([^"]+)"', login)
            assert csrf, login[:300]
            signed_in = web.post("/login", data={"token": tokens["tomas"], "next": "/", "_csrf_token": csrf.group(1)})
            assert signed_in.status_code in (200, 303), signed_in.text[:300]
            yield Target(backend, size, database_url, base, tokens, state, client, web)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def measure(fn: Callable[[], object]) -> float:
    for _ in range(WARM):
        fn()
    samples = []
    for _ in range(SAMPLES):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


# -- this helper's operations -----------------------------------------------------------------------------


@operation("GET /v1/inbox, tech PM (page 1)")
def _inbox_pm(t: Target) -> Callable[[], object]:
    return lambda: t.get("/v1/inbox", "tomas")


@operation("GET /v1/inbox, squad member with nothing waiting")
def _inbox_member(t: Target) -> Callable[[], object]:
    return lambda: t.get("/v1/inbox", "jon")


@operation("web decision page (pending, as a tech PM)")
def _decision_page(t: Target) -> Callable[[], object]:
    pending = t.get("/v1/decisions", "ann", status="pending", tier=2, limit=1).json()["items"][0]["id"]

    def page() -> object:
        response = t.web.get(f"/decisions/{pending}")
        if response.status_code != 200 or 'value="approve"' not in response.text:
            raise RuntimeError(f"decision page: {response.status_code}")
        return response

    return page


def _list(query: dict[str, Any], page: int) -> Setup:
    def setup(t: Target) -> Callable[[], object]:
        params = dict(query)
        for _ in range(page - 1):
            cursor = t.get("/v1/decisions", "ann", **params).json()["next_cursor"]
            if cursor is None:
                break
            params["cursor"] = cursor
        return lambda: t.get("/v1/decisions", "ann", **params)

    return setup


for _query in ({"category": "contract"}, {"filed_by": "jon"}):
    for _page in (1, 50):
        _key, _value = next(iter(_query.items()))
        OPERATIONS.append(Operation(f"GET /v1/decisions?{_key}={_value}, page {_page}", _list(_query, _page)))


@operation("GET /metrics")
def _metrics(t: Target) -> Callable[[], object]:
    return lambda: t.get("/metrics", "adm")


@operation("weekly digest, current window (GET /v1/digests/weekly)")
def _weekly_digest(t: Target) -> Callable[[], object]:
    return lambda: t.get("/v1/digests/weekly", "dana")


@operation("weekly digest of the history's last full week, ~1,900 filings at both sizes")
def _weekly_digest_full_week(t: Target) -> Callable[[], object]:
    # The current window holds what was filed since it opened (both sizes end at `history_end`); this one
    # lists a whole week, ~1,900 decisions, at both sizes, and is closed: changes since its end are replayed.
    from datetime import date, timedelta

    newest = t.get("/v1/decisions", "dana", sort="newest", limit=1).json()["items"][0]["created_at"]
    day = (date.fromisoformat(newest[:10]) - timedelta(days=7)).isoformat()
    return lambda: t.get("/v1/digests/weekly", "dana", date=day)


@operation("escalations per quarter, 8 quarters (GET /v1/metrics/escalations)")
def _escalations(t: Target) -> Callable[[], object]:
    return lambda: t.get("/v1/metrics/escalations", "dana", period="quarter")


# -- the section ------------------------------------------------------------------------------------------------


def rows(sizes: tuple[int, ...] = SIZES, backends: tuple[str, ...] = ("sqlite", "postgresql")) -> list[Row]:
    small, large = min(sizes), max(sizes)
    out: list[Row] = []
    for backend in backends:
        figures: dict[int, dict[str, float]] = {}
        for size in (small, large):
            with served(backend, size) as target:
                figures[size] = {}
                for op in OPERATIONS:
                    try:
                        result = op.setup(target)
                        figures[size][op.name] = result if isinstance(result, float) else measure(result)
                    except Exception as exc:  # one broken row must not lose the rest of a long run
                        print(f"{op.name} ({backend}, {size:,}): {exc}", file=sys.stderr)
                        figures[size][op.name] = float("nan")
                    print(f"{backend} {size:,} {op.name}: {fmt(figures[size][op.name], 's')}", file=sys.stderr)
        label = "SQLite" if backend == "sqlite" else "PostgreSQL"
        for op in OPERATIONS:
            before, after = figures[small][op.name], figures[large][op.name]
            ok = after < GOAL_SECONDS and after <= GOAL_RATIO * before
            goal = f"< 50 ms, <= {GOAL_RATIO:g}x"
            out.append(Row("read paths", f"{op.name}, {label}, {large:,} decisions", after, "s", before,
                           f"{small:,} decisions", goal, "ok" if ok else "over goal"))  # fmt: skip
    return out
