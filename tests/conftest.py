from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.runtime import Runtime, open_runtime, upgrade_database
from tests.support import DEFAULT_POLICY, ManualClock, database_url_for

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    with database_url_for(backend, tmp_path) as url:
        upgrade_database(url)
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    with database_url_for("sqlite", tmp_path) as url:
        upgrade_database(url)
        yield url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def runtime(database_url: str, clock: ManualClock) -> Iterator[Runtime]:
    rt = open_runtime(database_url, str(DEFAULT_POLICY), clock=clock)
    yield rt
    rt.close()


@pytest.fixture(autouse=True)
def _state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test keeps its signing key and last-checkpoint record to itself."""
    state = tmp_path / "state"
    monkeypatch.setenv("DECISIONS_STATE_DIR", str(state))
    monkeypatch.delenv("DECISIONS_SIGNING_KEY", raising=False)
    return state


@pytest.fixture
def sqlite_runtime(sqlite_url: str, clock: ManualClock) -> Iterator[Runtime]:
    rt = open_runtime(sqlite_url, str(DEFAULT_POLICY), clock=clock)
    yield rt
    rt.close()


@pytest.fixture
def postgres_runtime(tmp_path: Path, clock: ManualClock) -> Iterator[Runtime]:
    with database_url_for("postgresql", tmp_path) as url:
        upgrade_database(url)
        rt = open_runtime(url, str(DEFAULT_POLICY), clock=clock)
        yield rt
        rt.close()


pytest_plugins = ["tests.oidc.fixture"]
