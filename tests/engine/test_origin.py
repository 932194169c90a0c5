"""The log's origin: a schema-less URL (C2SP) derived from DECISIONS_BASE_URL, and an existing log keeps its own."""

from __future__ import annotations

import pytest

from engine.log.origin import DEFAULT_ORIGIN, origin_from_base_url
from engine.runtime import open_runtime
from engine.types import FilingRequest
from tests.support import DEFAULT_POLICY


@pytest.mark.parametrize(
    ("base", "origin"),
    [
        ("https://gov.example.com", "gov.example.com/decisions"),
        ("https://gov.example.com/", "gov.example.com/decisions"),
        ("http://127.0.0.1:8000", "127.0.0.1:8000/decisions"),
        ("https://example.com/rights/", "example.com/rights"),
        ("example.com", "example.com/decisions"),
        ("https://", None),
        ("https://example.com/a+b", None),  # '+' cannot be in a key name, and the key is named after the origin
    ],
)
def test_an_origin_from_the_base_url(base: str, origin: str | None) -> None:
    assert origin_from_base_url(base) == origin


def test_a_new_log_is_named_after_the_base_url(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DECISIONS_LOG_ORIGIN", raising=False)
    monkeypatch.setenv("DECISIONS_BASE_URL", "https://gov.example.com")
    rt = open_runtime(database_url, str(DEFAULT_POLICY))
    try:
        assert rt.service.origin == "gov.example.com/decisions"
        assert rt.checkpoints.create().note.startswith("gov.example.com/decisions\n")
        assert rt.service.verify_log().ok
    finally:
        rt.close()


def test_without_a_base_url_the_default_is_url_shaped(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DECISIONS_LOG_ORIGIN", raising=False)
    monkeypatch.delenv("DECISIONS_BASE_URL", raising=False)
    rt = open_runtime(database_url, str(DEFAULT_POLICY))
    try:
        assert rt.service.origin == DEFAULT_ORIGIN == "localhost/decisions"
    finally:
        rt.close()


def test_an_existing_log_keeps_its_origin_whatever_the_environment_says_now(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DECISIONS_LOG_ORIGIN", "decision-rights/log")  # what logs were named before
    rt = open_runtime(database_url, str(DEFAULT_POLICY))
    rt.close()
    monkeypatch.delenv("DECISIONS_LOG_ORIGIN")
    monkeypatch.setenv("DECISIONS_BASE_URL", "https://gov.example.com")
    for explicit in (None, "other.example/log"):
        if explicit:
            monkeypatch.setenv("DECISIONS_LOG_ORIGIN", explicit)
        rt = open_runtime(database_url, str(DEFAULT_POLICY))
        try:
            assert rt.service.origin == "decision-rights/log"
            mei = rt.policies.current.people["mei"]
            rt.service.file(mei, FilingRequest(title="t", category="contract", attributes={"change": "scope"}))
            assert rt.service.verify_log().ok
            assert rt.checkpoints.create().note.startswith("decision-rights/log\n")
        finally:
            rt.close()
