"""SIGKILL a server under concurrent filing load, again and again: after each restart the chain verifies,
every decision that was answered 201 is there, and no notification written with it is lost."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.runtime import open_runtime
from tests.reliability.server import Server, request
from tests.support import DEFAULT_POLICY

CYCLES = 20 if os.environ.get("SOAK") else 3
BODY = json.dumps({"title": "under load", "category": "pipeline", "attributes": {"risk_score": 80}}).encode()


def _load(url: str, token: str, acknowledged: list[str], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            with request(url + "/v1/decisions", token, BODY, "POST", timeout=5) as r:
                if r.status == 201:
                    acknowledged.append(json.loads(r.read())["id"])
        except Exception:  # the server dies mid-request: that request was never acknowledged
            time.sleep(0.01)


@pytest.mark.soak
def test_sigkill_under_load_loses_nothing_acknowledged(database_url: str, tmp_path: Path) -> None:
    # An unreachable receiver: notifications pile up in the outbox, where they must all survive.
    env = {"DECISIONS_WEBHOOK_URL": "http://127.0.0.1:9/hook"}
    rt = open_runtime(database_url, str(DEFAULT_POLICY))
    token = rt.service.create_token("mei")
    rt.close()
    acknowledged: list[str] = []
    for _cycle in range(CYCLES):
        server = Server(database_url, tmp_path, **env).start()
        stop = threading.Event()
        threads = [
            threading.Thread(target=_load, args=(server.url, token, acknowledged, stop), daemon=True) for _ in range(6)
        ]
        for t in threads:
            t.start()
        time.sleep(1.5)
        server.kill()
        stop.set()
        for t in threads:
            t.join(timeout=10)
        rt = open_runtime(database_url, str(DEFAULT_POLICY))
        try:
            result = rt.service.verify_log()
            assert result.ok, result
            with rt.service.engine.connect() as conn:
                stored = {r[0] for r in conn.execute(sa.text("SELECT id FROM decisions"))}
                routed = conn.execute(sa.text("SELECT count(*) FROM outbox WHERE kind = 'routed'")).scalar_one()
            assert set(acknowledged) <= stored, set(acknowledged) - stored
            # Each tier-2 decision is one message on the one channel (naming both tech PMs): written with the
            # event, or not at all.
            assert routed == len(stored)
        finally:
            rt.close()
    assert len(acknowledged) > CYCLES  # the load really ran
