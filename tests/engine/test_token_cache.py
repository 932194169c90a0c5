"""Verified tokens are remembered for TOKEN_CACHE_SECONDS: never a wrong secret, never a stale role,
a revocation in this process at once and one made by another process within the cache's seconds."""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa
from freezegun import freeze_time

from engine.identity import TOKEN_CACHE_SECONDS
from engine.runtime import Runtime


def _revoke_elsewhere(runtime: Runtime) -> None:
    """What `decisions token revoke` does from another process: only the database changes."""
    engine = sa.create_engine(runtime.database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP"))
    engine.dispose()


def test_a_token_revoked_by_another_process_stops_working_within_the_cache_seconds(runtime: Runtime) -> None:
    with freeze_time("2026-03-02 09:00:00") as frozen:
        token = runtime.service.create_token("mei")
        assert runtime.service.authenticate(token) is not None
        _revoke_elsewhere(runtime)
        # Within the window the answer comes from memory, with no database read...
        frozen.tick(TOKEN_CACHE_SECONDS / 2)
        assert runtime.service.authenticate_cached(token) is not False
        assert runtime.service.authenticate(token) is not None
        # ...and after it the database says no.
        frozen.tick(TOKEN_CACHE_SECONDS)
        assert runtime.service.authenticate_cached(token) is False
        assert runtime.service.authenticate(token) is None


def test_a_revocation_in_this_process_applies_at_once(runtime: Runtime) -> None:
    token = runtime.service.create_token("mei")
    assert runtime.service.authenticate(token) is not None
    runtime.service.revoke_tokens("mei")
    assert runtime.service.authenticate_cached(token) is False
    assert runtime.service.authenticate(token) is None


def test_a_remembered_token_id_with_a_wrong_secret_is_refused(runtime: Runtime) -> None:
    token = runtime.service.create_token("mei")
    assert runtime.service.authenticate(token) is not None
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert runtime.service.authenticate_cached(forged) is None
    assert runtime.service.authenticate(forged) is None


def test_roles_come_from_the_current_policy_not_the_cache(runtime: Runtime) -> None:
    token = runtime.service.create_token("mei")
    assert runtime.service.authenticate(token).name == "mei"  # type: ignore[union-attr]
    current = runtime.policies.current
    people = {name: p for name, p in current.people.items() if name != "mei"}
    runtime.policies.replace(dataclasses.replace(current, people=people))
    assert runtime.service.authenticate_cached(token) is None
    assert runtime.service.authenticate(token) is None
