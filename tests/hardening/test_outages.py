"""Outages answer 503 problem+json with Retry-After, /readyz says why, and the CLI says it in one line."""

from __future__ import annotations

import errno
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from litestar.testing import TestClient

from api.app import create_app
from api.cli import main
from engine.runtime import Runtime, open_runtime, upgrade_database
from tests.support import DEFAULT_POLICY, IN_CI, PG_SERVER_URL, ManualClock, postgres_or_skip

FILING = {"title": "t", "category": "quality_threshold", "attributes": {"deviation_pct": 3.0}}


def _unavailable(response: Any) -> dict[str, Any]:
    assert response.status_code == 503, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) > 0
    body: dict[str, Any] = response.json()
    assert body["status"] == 503 and body["type"].endswith(":unavailable")
    return body


# -- a PostgreSQL database that goes away ------------------------------------------------------------


@pytest.fixture
def vanishing_database() -> Iterator[tuple[str, Any]]:
    """A database of its own on the test server, and a function that drops it under the app's feet."""
    postgres_or_skip()
    name = f"gone_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    url = PG_SERVER_URL.rsplit("/", 1)[0] + f"/{name}"

    def drop() -> None:
        with admin.connect() as conn:
            # Terminates this database's backends only (never another test's).
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    try:
        yield url, drop
    finally:
        drop()
        admin.dispose()


def test_a_lost_postgresql_answers_503_and_readyz_says_so(
    vanishing_database: tuple[str, Any], clock: ManualClock
) -> None:
    url, drop = vanishing_database
    upgrade_database(url)
    rt = open_runtime(url, str(DEFAULT_POLICY), clock=clock)
    try:
        token = rt.service.create_token("mei")
        auth = {"Authorization": f"Bearer {token}"}
        with TestClient(create_app(rt), raise_server_exceptions=False) as client:
            assert client.post("/v1/decisions", json=FILING, headers=auth).status_code == 201
            assert client.get("/readyz").status_code == 200
            drop()
            _unavailable(client.post("/v1/decisions", json=FILING, headers=auth))
            _unavailable(client.get("/v1/decisions", headers=auth))
            ready = _unavailable(client.get("/readyz"))
            assert ready["checks"]["database"].startswith("unavailable")
            assert client.get("/healthz").status_code == 200  # liveness: the process itself is fine
    finally:
        rt.close()


# -- a full disk ---------------------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "disk"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:  # pragma: no cover - depends on the machine
        message = f"cannot mount a small tmpfs: {mounted.stderr.decode().strip()}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Take every free byte of the disk (big writes, then smaller ones for the last gaps)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


@pytest.fixture
def on_tiny_disk(tiny_disk: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("DECISIONS_STATE_DIR", str(tiny_disk / "state"))
    url = f"sqlite:///{tiny_disk / 'decisions.db'}"
    upgrade_database(url)
    rt = open_runtime(url, str(DEFAULT_POLICY), clock=clock)
    yield rt
    rt.close()


def test_a_full_disk_answers_503_writes_nothing_and_recovers(on_tiny_disk: Runtime, tiny_disk: Path) -> None:
    rt = on_tiny_disk
    auth = {"Authorization": f"Bearer {rt.service.create_token('mei')}"}
    admin = {"Authorization": f"Bearer {rt.service.create_token('adm')}"}
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        assert client.post("/v1/decisions", json=FILING, headers=auth).status_code == 201
        filler = fill(tiny_disk)
        _unavailable(client.post("/v1/decisions", json=FILING, headers=auth))
        _unavailable(client.post("/v1/log/checkpoint", headers=admin))
        assert _unavailable(client.get("/readyz"))["checks"]["state_dir"].startswith("unavailable")
        assert not list((tiny_disk / "state").glob("*.tmp"))
        filler.unlink()
        assert client.get("/readyz").status_code == 200
        assert client.post("/v1/decisions", json=FILING, headers=auth).status_code == 201
    assert rt.service.verify_log().ok and len(rt.service.list_decisions(_all()).items) == 2


def _all() -> Any:
    from engine.types import DecisionFilter

    return DecisionFilter()


def test_log_checkpoint_on_a_full_disk_is_one_line_and_leaves_no_temp_file(
    sqlite_url: str, tiny_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tiny_disk / "state"
    monkeypatch.setenv("DECISIONS_STATE_DIR", str(state))
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(main, ["--database-url", sqlite_url, "--policy", str(DEFAULT_POLICY), *args])

    assert run("log", "checkpoint").exit_code == 0  # the key and the first record are written
    rt = open_runtime(sqlite_url, str(DEFAULT_POLICY))
    try:
        from engine.types import FilingRequest

        rt.service.file(rt.policies.current.people["mei"], FilingRequest(title="t", category="pipeline",
                                                                         attributes={"risk_score": 10}))  # fmt: skip
        before = len(rt.checkpoints.all())
        filler = fill(tiny_disk)
        r = run("log", "checkpoint")
        assert r.exit_code == 1
        assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1, r.output
        assert "No space left on device" in r.output
        assert not list(state.glob("*.tmp"))
        assert len(rt.checkpoints.all()) == before  # nothing half-written: no checkpoint without its record
        filler.unlink()
        assert run("log", "checkpoint").exit_code == 0
    finally:
        rt.close()
