"""A candidate policy under which the squad could settle a `policy` decision never gets near activation:
proposing it is 422 naming file:line:column, and a policy decision naming one already stored (by a version
of the service from before the rule) is 422 at filing and amendment, with nothing logged, on both backends."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import insert

from engine.store.db import write_transaction
from engine.store.tables import PolicyVersion
from tests.api.conftest import Api
from tests.support import DEFAULT_POLICY

TEXT = DEFAULT_POLICY.read_text(encoding="utf-8")
_HEAD, _POLICY_SECTION = TEXT.split("\n  policy:\n")
#: The default policy with `policy` lowered to tier 1, the squad's: any squad member could activate anything.
SQUAD_TEXT = _HEAD + "\n  policy:\n" + _POLICY_SECTION.replace("base_tier: 3", "base_tier: 1", 1)
SQUAD_VERSION = hashlib.sha256(SQUAD_TEXT.encode()).hexdigest()
_BASE_TIER_AT = SQUAD_TEXT.index("base_tier: 1", len(_HEAD)) + len("base_tier: ")
SQUAD_LINE_COLUMN = (
    SQUAD_TEXT.count("\n", 0, _BASE_TIER_AT) + 1,
    _BASE_TIER_AT - SQUAD_TEXT.rfind("\n", 0, _BASE_TIER_AT),
)


def _events(api: Api) -> int:
    return sum(1 for _ in api.runtime.service.iter_event_rows())


def _store_as_an_earlier_version_would_have(api: Api) -> None:
    table = PolicyVersion.__table__  # type: ignore[attr-defined]
    with write_transaction(api.runtime.service.engine) as conn:
        conn.execute(
            insert(table).values(
                version=SQUAD_VERSION, source="old.yaml", content=SQUAD_TEXT, first_seen_at=datetime.now(UTC)
            )
        )


def test_proposing_a_candidate_the_squad_could_activate_is_422_at_its_line_and_column(api: Api) -> None:
    before = _events(api)
    response = api.post("/v1/policy/candidates", "adm", {"content": SQUAD_TEXT, "source": "squad.yaml"})
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    line, column = SQUAD_LINE_COLUMN
    assert error["path"] == f"squad.yaml:{line}:{column}"
    assert "base_tier 1 (Squad) is resolved by the squad without sign-off" in error["message"]
    # Nothing stored: a policy decision naming it is refused as naming no candidate.
    filed = api.post(
        "/v1/decisions", "adm", {"title": "t", "category": "policy", "attributes": {"candidate_version": SQUAD_VERSION}}
    )
    assert filed.status_code == 422 and "no candidate policy has this version" in filed.text
    assert _events(api) == before


def test_a_policy_decision_naming_a_stored_candidate_that_no_longer_loads_is_422(api: Api) -> None:
    _store_as_an_earlier_version_would_have(api)
    active = api.runtime.policies.current.version
    before = _events(api)
    for who in ("adm", "mei"):
        response = api.post(
            "/v1/decisions",
            who,
            {"title": "t", "category": "policy", "attributes": {"candidate_version": SQUAD_VERSION}},
        )
        assert response.status_code == 422, response.text
        [error] = response.json()["errors"]
        assert error["path"] == "$.attributes.candidate_version"
        assert error["message"].startswith(f"candidate policy {SQUAD_VERSION[:12]} does not load")
        assert "resolved by the squad without sign-off" in error["message"]
    assert _events(api) == before
    # An amendment cannot swap it in either.
    good = api.post(
        "/v1/policy/candidates", "adm", {"content": TEXT.replace("pipeline_risk_max: 30", "pipeline_risk_max: 35")}
    ).json()["version"]
    filed = api.file("adm", "policy", {"candidate_version": good})
    assert filed["status"] == "pending" and filed["tier"] == 3
    after_filing = _events(api)
    amended = api.post(
        f"/v1/decisions/{filed['id']}/amend", "adm", {"attributes": {"candidate_version": SQUAD_VERSION}}
    )
    assert amended.status_code == 422 and "does not load" in amended.text
    assert _events(api) == after_filing
    assert api.runtime.policies.current.version == active
