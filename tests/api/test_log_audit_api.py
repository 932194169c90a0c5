"""GET /v1/log/audit: the replay's verdict for auditors and admins, and the audit page's latest result."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api
from tests.log.tampering import rows
from tests.log.test_audit import _append_forged, _history


@pytest.mark.parametrize("who", ["ann", "adm"])
def test_the_api_answers_for_auditors_and_admins(api: Api, who: str) -> None:
    _history(api.runtime)
    answer = api.get("/v1/log/audit", who)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"ok": True, "size": len(rows(api.runtime)), "first_bad_seq": None, "reason": None}
    assert api.get("/v1/log/audit", "mei").status_code == 403


def test_the_api_names_the_first_illegitimate_step(api: Api) -> None:
    ids = _history(api.runtime)
    data = {"verdict": "approve", "reason": None, "role": "tech_pm", "squad": "nucleus", "on_behalf_of": None,
            "approvals": ["mei"], "missing": None, "status": "approved"}  # fmt: skip
    seq = _append_forged(api.runtime, "approval_recorded", "mei", ids["pending"], data)
    answer = api.get("/v1/log/audit", "ann").json()
    assert answer["ok"] is False and answer["first_bad_seq"] == seq and answer["size"] == seq
    assert answer["reason"].startswith(f"seq {seq}: mei's approval of {ids['pending']} was not allowed")


def test_the_audit_response_type_is_documented(api: Api) -> None:
    schema: dict[str, Any] = api.client.get("/schema/openapi.json").json()
    operation = schema["paths"]["/v1/log/audit"]["get"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    component = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(component["properties"]) == {"ok", "size", "first_bad_seq", "reason"}
