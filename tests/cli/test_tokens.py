"""Tokens as a person managing them meets them: list (never the secret), revoke one by id, expiry, last use,
and how many others are live when one is created; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner, Result
from freezegun import freeze_time
from litestar.testing import TestClient

from api.app import create_app
from api.cli import main
from engine.identity import LAST_USED_EVERY, TOKEN_CACHE_SECONDS
from engine.runtime import Runtime
from tests.support import DEFAULT_POLICY, ManualClock


@pytest.fixture
def run(database_url: str) -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, ["--database-url", database_url, "--policy", str(DEFAULT_POLICY), *args])

    return invoke


def _mint(run: Callable[..., Result], *args: str) -> tuple[str, str]:
    result = run("token", "create", *args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1], result.stderr


def test_create_says_how_many_others_are_live_and_list_shows_them_without_secrets(run: Callable[..., Result]) -> None:
    first, said = _mint(run, "mei", "--label", "laptop")
    assert "mei has no other live token" in said
    second, said = _mint(run, "mei", "--label", "ci", "--expires", "90d")
    assert "mei has 1 other live token" in said and "expires" in said
    _, said = _mint(run, "mei")
    assert "mei has 2 other live tokens" in said
    _mint(run, "tomas")
    listed = run("token", "list", "mei")
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.strip().splitlines()
    assert lines[0].split() == ["ID", "PERSON", "LABEL", "SCOPE", "CREATED", "LAST", "USED", "EXPIRES", "STATE"]
    assert len(lines) == 4 and all(" mei " in line for line in lines[1:])
    assert "laptop" in listed.stdout and "ci" in listed.stdout and "tomas" not in listed.stdout
    for token in (first, second):
        assert token.split("_", 2)[2] not in listed.stdout  # the secret part is never shown
        assert token.split("_")[1] in listed.stdout  # the id is, to revoke it by
    assert len(run("token", "list").stdout.strip().splitlines()) == 5  # everyone's


def test_revoke_one_token_by_id_leaves_the_others_working(run: Callable[..., Result], database_url: str) -> None:
    laptop, _ = _mint(run, "mei", "--label", "laptop")
    ci, _ = _mint(run, "mei", "--label", "ci")
    revoked = run("token", "revoke", "--id", ci.split("_")[1])
    assert revoked.exit_code == 0 and "of mei is revoked" in revoked.output and "(ci)" in revoked.output
    from engine.runtime import open_runtime

    rt = open_runtime(database_url, str(DEFAULT_POLICY))
    try:
        assert rt.service.authenticate(ci) is None
        assert rt.service.authenticate(laptop) is not None
    finally:
        rt.close()
    listed = run("token", "list", "mei", "--all").stdout
    assert "revoked" in listed and "live" in listed
    assert "laptop" in run("token", "list", "mei").stdout and " ci " not in run("token", "list", "mei").stdout
    unknown = run("token", "revoke", "--id", "0123456789abcdef")
    assert unknown.exit_code != 0 and "no token has the id" in unknown.output
    assert run("token", "revoke").exit_code == 2  # neither a person nor --id
    assert "revoked 1 token(s) of mei" in run("token", "revoke", "mei").output  # the person form still works


def test_an_unreadable_expiry_is_refused(run: Callable[..., Result]) -> None:
    result = run("token", "create", "mei", "--expires", "three months")
    assert result.exit_code == 2 and "--expires" in result.output and "90m" in result.output


def test_an_expired_token_stops_working_even_when_remembered(runtime: Runtime, clock: ManualClock) -> None:
    expires = clock.now + timedelta(days=1)
    token = runtime.service.identity.create_token("mei", "short", expires)
    assert runtime.service.authenticate(token) is not None
    assert runtime.service.authenticate_cached(token) not in (False, None)  # remembered...
    clock.advance(days=1)
    assert runtime.service.authenticate_cached(token) is None  # ...but expiry applies to the memory too
    assert runtime.service.authenticate(token) is None
    [info] = runtime.service.identity.list_tokens("mei", include_dead=True)
    assert info.state(clock.now) == "expired" and runtime.service.identity.list_tokens("mei") == []
    assert runtime.service.identity.live_tokens("mei") == 0


def test_an_expired_token_is_refused_over_http(runtime: Runtime, clock: ManualClock) -> None:
    token = runtime.service.identity.create_token("mei", None, clock.now + timedelta(hours=1))
    with TestClient(create_app(runtime)) as client:
        assert client.get("/v1/inbox", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        clock.advance(hours=2)
        assert client.get("/v1/inbox", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_last_use_is_recorded_at_most_once_a_minute(runtime: Runtime, clock: ManualClock) -> None:
    identity = runtime.service.identity

    def last_used() -> Any:
        [info] = identity.list_tokens("mei")
        return info.last_used_at

    with freeze_time("2026-03-02 09:00:00") as frozen:  # moves the cache's and the throttle's monotonic clock
        token = identity.create_token("mei")
        assert last_used() is None
        assert identity.authenticate(token) is not None
        first = clock.now
        assert last_used() == first
        # Requests keep coming: each cache expiry brings a database read, but no write within the minute.
        for _ in range(5):
            clock.advance(seconds=TOKEN_CACHE_SECONDS * 2)
            frozen.tick(TOKEN_CACHE_SECONDS * 2)
            assert identity.authenticate(token) is not None
        assert last_used() == first
        clock.advance(seconds=LAST_USED_EVERY)
        frozen.tick(LAST_USED_EVERY)
        assert identity.authenticate(token) is not None
        assert last_used() == clock.now


def test_a_past_expiry_is_refused(runtime: Runtime, clock: ManualClock) -> None:
    from engine.errors import InvalidInput

    with pytest.raises(InvalidInput, match="in the future"):
        runtime.service.identity.create_token("mei", None, clock.now - timedelta(seconds=1))
