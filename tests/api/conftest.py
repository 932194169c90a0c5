from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from api.app import create_app
from engine.runtime import Runtime

PEOPLE = ["mei", "jon", "ravi", "lena", "tomas", "priya", "dana", "ann", "adm"]


class Api:
    """A TestClient plus a bearer token per person of the default directory."""

    def __init__(self, client: TestClient[Any], tokens: dict[str, str], runtime: Runtime) -> None:
        self.client = client
        self.tokens = tokens
        self.runtime = runtime

    def headers(self, who: str | None, **extra: str) -> dict[str, str]:
        headers = dict(extra)
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        return headers

    def post(self, path: str, who: str | None, json: Any = None, **kwargs: Any) -> Any:
        extra = kwargs.pop("headers", {})
        return self.client.post(path, json=json, headers=self.headers(who, **extra), **kwargs)

    def get(self, path: str, who: str | None, **kwargs: Any) -> Any:
        return self.client.get(path, headers=self.headers(who), **kwargs)

    def file(self, who: str, category: str, attributes: dict[str, Any], title: str = "a decision") -> dict[str, Any]:
        response = self.post("/v1/decisions", who, {"title": title, "category": category, "attributes": attributes})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def api(runtime: Runtime) -> Iterator[Api]:
    tokens = {who: runtime.service.create_token(who) for who in PEOPLE}
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        yield Api(client, tokens, runtime)
