"""A candidate policy's text is in the log from the filing on, and the replay audit holds it to its version.

An approval of a `policy` decision approves the candidate its `candidate_version` names. The
log gives that candidate's full text with the filing and with each amendment that names another
candidate, so an auditor reads from the log alone what each approver approved, even for a
candidate never activated. The audit takes a text only when its SHA-256 is the version the
approvals bind to. Logs written before texts were logged stay auditable.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from engine.log.audit import audit_database
from engine.runtime import Runtime
from engine.types import AmendRequest, FilingRequest, VerdictRequest, WithdrawRequest
from tests.log.tampering import drop_guards, replace_rows, restore_guards, rewrite_from, row_for, rows
from tests.support import DEFAULT_POLICY

TEXT = DEFAULT_POLICY.read_text()
#: Two candidates: each a policy that loads, each its own version.
ONE = TEXT.replace("quality_bound_pct: 2.0", "quality_bound_pct: 1.0")
OTHER = TEXT.replace("quality_bound_pct: 2.0", "quality_bound_pct: 1.5")


def _file_policy(rt: Runtime, text: str) -> str:
    candidate = rt.governance.propose(text, "candidate.yaml")
    request = FilingRequest(title="a new bound", category="policy", attributes={"candidate_version": candidate.version})
    return rt.service.file(rt.policies.current.people["adm"], request).decision.id


def _amend_to(rt: Runtime, decision_id: str, text: str) -> None:
    version = rt.governance.propose(text, "other.yaml").version
    request = AmendRequest(attributes={"candidate_version": version}, reason="the other bound")
    rt.service.amend(rt.policies.current.people["adm"], decision_id, request)


def _bodies(rt: Runtime, decision_id: str) -> list[dict[str, Any]]:
    return [json.loads(r["body"]) for r in rows(rt) if r["decision_id"] == decision_id]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _named(rt: Runtime, seq: int, *words: str) -> str:
    restore_guards(rt)
    assert rt.service.verify_log().ok, "the forgery must be chain-correct, or this test proves nothing"
    result = audit_database(rt.service.engine)
    assert not result.ok and result.first_bad_seq == seq, result
    reason = result.reason or ""
    assert reason.startswith(f"seq {seq}: "), reason
    for word in words:
        assert word in reason, reason
    return reason


def test_the_filing_and_each_new_candidate_carry_the_text_approvers_approve(runtime: Runtime) -> None:
    people = runtime.policies.current.people
    # Never activated: filed for ONE, amended to OTHER, amended again without naming another, withdrawn.
    shelved = _file_policy(runtime, ONE)
    _amend_to(runtime, shelved, OTHER)
    runtime.service.amend(people["adm"], shelved, AmendRequest(title="the 1.5 % bound", reason="a clearer title"))
    runtime.service.withdraw(people["adm"], shelved, WithdrawRequest(reason="not now"))
    filed, renamed, retitled, _ = _bodies(runtime, shelved)
    assert filed["data"]["candidate_text"] == ONE and _sha(ONE) == filed["data"]["attributes"]["candidate_version"]
    assert renamed["type"] == "decision_amended" and renamed["data"]["candidate_text"] == OTHER
    assert _sha(OTHER) == renamed["data"]["attributes"]["candidate_version"]
    assert "candidate_text" not in retitled["data"]  # the same candidate: its text is already in the log

    # Activated: the filing's text is the one the activation runs.
    activated = _file_policy(runtime, ONE)
    runtime.service.decide(people["dana"], activated, VerdictRequest(verdict="approve", reason="agreed"))
    assert runtime.policies.current.version == _sha(ONE)
    activation = next(json.loads(r["body"]) for r in rows(runtime) if r["type"] == "policy_activated" and r["seq"] > 0)
    assert activation["data"]["text"] == _bodies(runtime, activated)[0]["data"]["candidate_text"]

    # Other decisions carry none.
    mei = people["mei"]
    other = runtime.service.file(
        mei, FilingRequest(title="x", category="quality_threshold", attributes={"deviation_pct": 3.0})
    )
    assert "candidate_text" not in _bodies(runtime, other.decision.id)[0]["data"]

    result = audit_database(runtime.service.engine)
    assert result.ok and result.size == len(rows(runtime)), result


def test_a_forged_candidate_text_in_a_filing_is_named(runtime: Runtime) -> None:
    decision = _file_policy(runtime, ONE)
    seq = _bodies(runtime, decision)[0]["seq"]
    drop_guards(runtime)
    # What an approver would read is now another policy (OTHER), under ONE's version.
    rewrite_from(runtime, seq, lambda b: {**b, "data": {**b["data"], "candidate_text": OTHER}})
    _named(runtime, seq, "candidate policy text", "does not hash to its candidate_version", _sha(ONE)[:12])


def test_a_forged_candidate_text_in_an_amendment_is_named(runtime: Runtime) -> None:
    decision = _file_policy(runtime, ONE)
    _amend_to(runtime, decision, OTHER)
    amended = _bodies(runtime, decision)[1]
    assert amended["type"] == "decision_amended"
    drop_guards(runtime)
    rewrite_from(runtime, amended["seq"], lambda b: {**b, "data": {**b["data"], "candidate_text": ONE}})
    _named(runtime, amended["seq"], "does not hash to its candidate_version", _sha(OTHER)[:12])


def test_a_text_where_the_rules_give_none_is_named(runtime: Runtime) -> None:
    decision = _file_policy(runtime, ONE)
    runtime.service.amend(
        runtime.policies.current.people["adm"], decision, AmendRequest(title="retitled", reason="clearer")
    )
    amended = _bodies(runtime, decision)[1]
    drop_guards(runtime)
    # A genuine text, but the amendment names no new candidate: the rules give no text there.
    rewrite_from(runtime, amended["seq"], lambda b: {**b, "data": {**b["data"], "candidate_text": ONE}})
    _named(runtime, amended["seq"], "has 'candidate_text', which the rules do not give")


def test_a_candidate_text_that_does_not_load_is_named(runtime: Runtime) -> None:
    decision = _file_policy(runtime, ONE)
    seq = _bodies(runtime, decision)[0]["seq"]
    broken = "version: 1\ntimezone: Mars/Olympus\n"

    def forge(body: dict[str, Any]) -> dict[str, Any]:
        attributes = {**body["data"]["attributes"], "candidate_version": _sha(broken)}
        return {**body, "data": {**body["data"], "attributes": attributes, "candidate_text": broken}}

    drop_guards(runtime)
    rewrite_from(runtime, seq, forge)
    _named(runtime, seq, "the candidate policy it names does not load")


def test_a_log_written_before_candidate_texts_still_passes(runtime: Runtime) -> None:
    """Events without the text (as the service wrote them before) are audited as before: the approval's
    activation carries the text."""
    people = runtime.policies.current.people
    shelved = _file_policy(runtime, OTHER)
    activated = _file_policy(runtime, ONE)
    runtime.service.decide(people["dana"], activated, VerdictRequest(verdict="approve", reason="agreed"))
    assert audit_database(runtime.service.engine).ok

    def as_before(body: dict[str, Any]) -> dict[str, Any]:
        if body["decision_id"] not in (shelved, activated):
            return body
        return {**body, "data": {k: v for k, v in body["data"].items() if k != "candidate_text"}}

    drop_guards(runtime)
    new_rows, prev = [], rows(runtime)[0]["prev_hash"]
    for r in rows(runtime):
        row = row_for({**as_before(json.loads(r["body"])), "prev": prev})
        new_rows.append(row)
        prev = row["leaf_hash"]
    replace_rows(runtime, new_rows, update_head=True)
    restore_guards(runtime)
    assert runtime.service.verify_log().ok
    assert not any("candidate_text" in json.loads(r["body"])["data"] for r in rows(runtime))
    result = audit_database(runtime.service.engine)
    assert result.ok and result.size == len(rows(runtime)), result


def test_a_text_dropped_where_the_log_already_gave_it_is_named(runtime: Runtime) -> None:
    """Once the log has given a candidate's text, a later filing naming that candidate must carry it too."""
    _file_policy(runtime, ONE)
    again = _file_policy(runtime, ONE)
    seq = _bodies(runtime, again)[0]["seq"]
    drop_guards(runtime)
    rewrite_from(runtime, seq, lambda b: {**b, "data": {k: v for k, v in b["data"].items() if k != "candidate_text"}})
    _named(runtime, seq, "lacks 'candidate_text'")
