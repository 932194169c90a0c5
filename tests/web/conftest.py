from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from api.app import create_app
from engine.runtime import Runtime

PEOPLE = ["mei", "jon", "ravi", "tomas", "priya", "dana", "ann", "adm"]
CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


class Browser:
    """A TestClient that behaves like a browser: cookies kept, forms carry the page's CSRF token."""

    def __init__(self, client: TestClient[Any], tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def csrf(self, path: str = "/login") -> str:
        page = self.client.get(path)
        match = CSRF.search(page.text)
        assert match, page.text[:500]
        return match.group(1)

    def sign_in(self, who: str) -> None:
        token = self.csrf("/login")
        r = self.client.post("/login", data={"token": self.tokens[who], "next": "/", "_csrf_token": token})
        assert r.status_code in (200, 303), r.text

    def submit(self, page: str, action: str, data: dict[str, str]) -> Any:
        return self.client.post(action, data={**data, "_csrf_token": self.csrf(page)})


@pytest.fixture
def browser(runtime: Runtime) -> Iterator[Browser]:
    tokens = {who: runtime.service.create_token(who) for who in PEOPLE}
    with TestClient(create_app(runtime), raise_server_exceptions=True) as client:
        yield Browser(client, tokens)
