"""GET /v1/log/verify answers from the stored results and the tail; POST /v1/log/verify and /v1/log/audit
start the worker (auditors and admins)."""

from __future__ import annotations

import time

from engine.log.job_lock import job_lock
from engine.log.verifications import latest
from tests.api.conftest import Api


def _wait_for(api: Api, kind: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while latest(api.runtime.service.engine, [kind]) is None:  # type: ignore[list-item]
        assert time.monotonic() < deadline, "the verification worker did not finish"
        time.sleep(0.1)


def test_verify_answers_from_the_stored_result_and_the_tail(api: Api) -> None:
    api.file("mei", "pipeline", {"risk_score": 1})
    first = api.get("/v1/log/verify", "ann").json()  # nothing stored: the worker's full verification first
    assert first["ok"] is True and first["size"] == 2 and first["full"]["size"] == 2
    assert first["stored"]["kind"] == "full" and first["checked_from"] == 2 and first["running"] is False
    api.file("mei", "pipeline", {"risk_score": 1})
    second = api.get("/v1/log/verify", "adm").json()
    assert second["ok"] is True and second["size"] == 3 and second["checked_from"] == 2
    assert second["root"] == api.runtime.service.verify_log().root
    assert api.get("/v1/log/verify", "mei").status_code == 403


def test_post_starts_a_job_for_auditors_and_admins_only(api: Api) -> None:
    api.file("mei", "pipeline", {"risk_score": 1})
    assert api.post("/v1/log/verify", "mei").status_code == 403
    assert api.post("/v1/log/audit", "tomas").status_code == 403
    started = api.post("/v1/log/audit", "ann")
    assert started.status_code == 202 and started.json() == {"kind": "audit", "started": True}
    _wait_for(api, "audit")
    assert api.get("/v1/log/audit", "ann").json() == {"ok": True, "size": 2, "first_bad_seq": None, "reason": None}
    with job_lock(api.runtime.service.engine):
        busy = api.post("/v1/log/verify", "adm")
        assert busy.status_code == 202 and busy.json() == {"kind": "full", "started": False}
