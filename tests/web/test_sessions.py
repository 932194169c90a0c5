"""Web sessions are server-side: the cookie is a random id, and a session ends everywhere at once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.web.session import SESSION_COOKIE
from engine.runtime import Runtime, open_runtime
from tests.support import DEFAULT_POLICY, ManualClock
from tests.web.conftest import Browser

CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


def _cookie(browser: Browser) -> str:
    value = browser.client.cookies.get(SESSION_COOKIE)
    assert value, "no session cookie after sign-in"
    return value


def _replay(client: TestClient[Any], cookie: str, path: str = "/inbox") -> int:
    """A saved copy of the cookie, used from a fresh browser."""
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, cookie)
    status: int = client.get(path, follow_redirects=False).status_code
    return status


def test_the_cookie_holds_a_random_id_never_the_token(browser: Browser) -> None:
    token = browser.csrf("/login")
    r = browser.client.post(
        "/login", data={"token": browser.tokens["tomas"], "next": "/", "_csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    set_cookie = r.headers.get_list("set-cookie")
    session = [c for c in set_cookie if c.startswith(SESSION_COOKIE + "=")]
    assert len(session) == 1 and "HttpOnly" in session[0] and "SameSite=lax" in session[0].replace("Lax", "lax")
    secret = browser.tokens["tomas"].split("_", 2)[2]
    assert all(secret not in c and browser.tokens["tomas"] not in c for c in set_cookie)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", _cookie(browser))


def test_sign_out_ends_a_saved_copy_of_the_cookie(browser: Browser) -> None:
    browser.sign_in("mei")
    filed = browser.submit(
        "/new?category=reporting_format", "/new", {"category": "reporting_format", "title": "t", "action": "file"}
    )
    decision_id = filed.url.path.rsplit("/", 1)[-1]
    saved = _cookie(browser)
    browser.submit("/decisions", "/logout", {})
    assert _replay(browser.client, saved, "/decisions") == 303
    # And no comment can be posted with it.
    page = browser.client.get("/login")
    csrf = CSRF.search(page.text)
    assert csrf
    browser.client.cookies.set(SESSION_COOKIE, saved)
    r = browser.client.post(
        f"/decisions/{decision_id}/comment", data={"text": "still here", "_csrf_token": csrf.group(1)},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_revoking_the_token_ends_its_sessions(browser: Browser, runtime: Runtime) -> None:
    browser.sign_in("tomas")
    assert browser.client.get("/inbox", follow_redirects=False).status_code == 200
    runtime.service.revoke_tokens("tomas")
    assert browser.client.get("/inbox", follow_redirects=False).status_code == 303


def test_idle_timeout(browser: Browser, runtime: Runtime, clock: ManualClock) -> None:
    browser.sign_in("tomas")
    for _ in range(3):  # used every 20 minutes: still signed in after an hour
        clock.advance(minutes=20)
        assert browser.client.get("/inbox", follow_redirects=False).status_code == 200
    clock.advance(minutes=runtime.sessions.idle.total_seconds() / 60 + 1)
    assert browser.client.get("/inbox", follow_redirects=False).status_code == 303


def test_absolute_timeout(browser: Browser, runtime: Runtime, clock: ManualClock) -> None:
    browser.sign_in("tomas")
    elapsed = 0.0
    limit = runtime.sessions.absolute.total_seconds() / 60
    while elapsed + 20 < limit:
        clock.advance(minutes=20)
        elapsed += 20
        assert browser.client.get("/inbox", follow_redirects=False).status_code == 200
    clock.advance(minutes=limit - elapsed)
    assert browser.client.get("/inbox", follow_redirects=False).status_code == 303


@pytest.fixture
def second_worker(database_url: str, clock: ManualClock, runtime: Runtime) -> Iterator[TestClient[Any]]:
    """Another process's app on the same database (its own runtime, its own caches)."""
    other = open_runtime(database_url, str(DEFAULT_POLICY), clock=clock)
    with TestClient(create_app(other), raise_server_exceptions=True) as client:
        yield client
    other.close()


def test_every_worker_sees_the_session_and_its_end(browser: Browser, second_worker: TestClient[Any]) -> None:
    browser.sign_in("tomas")
    cookie = _cookie(browser)
    assert _replay(second_worker, cookie) == 200
    browser.submit("/inbox", "/logout", {})
    assert _replay(second_worker, cookie) == 303


def test_the_api_never_accepts_the_session_cookie(browser: Browser) -> None:
    browser.sign_in("tomas")
    assert browser.client.get("/v1/inbox").status_code == 401
