"""The probes through a real `decisions serve` process: HEAD answers /healthz and /readyz as GET does, status
and headers, with no body (load balancers and uptime checkers probe with HEAD); other methods get 405 naming
what is allowed. And the document says so."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.contract.conftest import Live

#: Headers whose value may differ between two answers of the same probe.
_VARYING = {"date", "server"}


def _ask(live: Live, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    address = urlsplit(live.url)
    connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=10)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        # A HEAD answer has no body whatever its Content-Length; read() would otherwise wait for one.
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_head_answers_a_probe_as_get_does_without_a_body(live: Live, path: str) -> None:
    got, got_headers, got_body = _ask(live, "GET", path)
    head, head_headers, head_body = _ask(live, "HEAD", path)
    assert (got, head) == (200, 200)
    assert got_body and head_body == b""
    assert {k: v for k, v in head_headers.items() if k not in _VARYING} == {
        k: v for k, v in got_headers.items() if k not in _VARYING
    }
    assert head_headers["content-type"] == "application/json"
    assert int(head_headers["content-length"]) == len(got_body)


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_a_probe_refuses_other_methods_naming_get_and_head(live: Live, path: str) -> None:
    status, headers, body = _ask(live, "POST", path)
    assert status == 405, body
    assert {"GET", "HEAD"} <= {m.strip() for m in headers["allow"].split(",")}
    assert headers["content-type"] == "application/problem+json"


def test_the_document_offers_head_on_both_probes(document_file: Path) -> None:
    document = json.loads(document_file.read_text())
    for path in ("/healthz", "/readyz"):
        item = document["paths"][path]
        assert set(item) == {"get", "head"}, path
        assert item["head"]["security"] == []
        assert item["get"]["responses"]["405"]["description"] == "Only GET and HEAD are answered here."
