"""`decisions log audit`: the whole log replayed through the rules, from the database or an export.

Forgeries here are chain-correct (every later hash recomputed, the head row updated), so
`log verify` passes them: only the replay through the rules can say the step was not allowed.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from api.cli import main
from engine.effect import baseline as reader
from engine.effect.service import Effect
from engine.log.audit import Replay, audit_database, audit_export
from engine.log.canonical import canonical_bytes
from engine.runtime import Runtime
from engine.types import (
    AmendRequest,
    CommentRequest,
    DelegationRequest,
    FilingRequest,
    ProceedRequest,
    VerdictRequest,
    WithdrawRequest,
)
from tests.log.tampering import drop_guards, replace_rows, restore_guards, rewrite_from, row_for, rows
from tests.support import DEFAULT_POLICY


def _history(rt: Runtime) -> dict[str, Any]:
    """Every command type, by the people the default policy allows. Returns ids by role in the story."""
    people = rt.policies.current.people
    service, clock = rt.service, rt.service.clock
    now = clock()
    ids: dict[str, Any] = {}

    def file(who: str, category: str, attributes: dict[str, Any], **extra: Any) -> str:
        request = FilingRequest(title=f"{category} by {who}", category=category, attributes=attributes, **extra)
        return service.file(people[who], request).decision.id

    ids["approved"] = approved = file("mei", "quality_threshold", {"deviation_pct": 3.5})
    service.comment(people["jon"], approved, CommentRequest(text="looks fine <b>to me</b>"))
    service.amend(people["mei"], approved, AmendRequest(attributes={"deviation_pct": 4.0}, reason="new data"))
    service.decide(people["tomas"], approved, VerdictRequest(verdict="approve", reason="bounded"))
    ids["superseding"] = superseding = file("mei", "quality_threshold", {"deviation_pct": 1.0}, supersedes=approved)
    # Its approval supersedes the old one in the same step: a `system` consequence the replay must match.
    service.decide(people["priya"], superseding, VerdictRequest(verdict="approve", reason="replaces it"))
    grant = service.delegate(
        people["priya"],
        DelegationRequest(delegate="ravi", role="tech_pm", starts_at=now, ends_at=now + timedelta(days=2)),
    )
    ids["grant"] = grant.id
    ids["rejected"] = rejected = file("lena", "pipeline", {"risk_score": 80})
    service.decide(people["ravi"], rejected, VerdictRequest(verdict="reject", reason="too risky"))
    service.revoke_delegation(people["priya"], grant.id)
    ids["withdrawn"] = withdrawn = file("mei", "pipeline", {"risk_score": 70})
    service.withdraw(people["mei"], withdrawn, WithdrawRequest(reason="not needed"))
    ids["proceeded"] = proceeded = file("mei", "quality_threshold", {"deviation_pct": 5.0})
    service.proceed(people["mei"], proceeded, ProceedRequest(reason="the client's run starts tonight"))
    service.decide(people["priya"], proceeded, VerdictRequest(verdict="approve", reason="ratified"))
    ids["pending"] = file("mei", "quality_threshold", {"deviation_pct": 3.0})
    candidate = rt.governance.propose(
        DEFAULT_POLICY.read_text().replace("quality_bound_pct: 2.0", "quality_bound_pct: 1.0"), "candidate.yaml"
    )
    ids["policy"] = policy = file("adm", "policy", {"candidate_version": candidate.version})
    service.decide(people["dana"], policy, VerdictRequest(verdict="approve", reason="agreed"))
    ids["after"] = file("mei", "quality_threshold", {"deviation_pct": 1.5})  # tier 2 under the new bound
    baseline = "date,kind,decided_by\n2026-01-05,contract,director\n2026-01-06,contract,squad\n"
    items = reader.parse(baseline, "baseline.csv", rt.policies.current)
    Effect(service, rt.policies, service.clock).import_baseline(people["adm"], items, "baseline.csv")
    return ids


def _seq_of(rt: Runtime, kind: str, decision_id: str | None = None, actor: str | None = None) -> int:
    for r in rows(rt):
        if r["type"] != kind or decision_id not in (None, r["decision_id"]):
            continue
        if actor is None or r["actor"] == actor:
            return int(r["seq"])
    raise AssertionError(f"no {kind} event for {decision_id}")


def _append_forged(rt: Runtime, kind: str, actor: str, decision_id: str | None, data: dict[str, Any]) -> int:
    """A well-formed, chain-correct event appended by someone with write access to the database."""
    drop_guards(rt)
    old = rows(rt)
    last = json.loads(old[-1]["body"])
    body = {**last, "seq": len(old), "prev": old[-1]["leaf_hash"], "type": kind, "actor": actor,
            "decision_id": decision_id, "data": data}  # fmt: skip
    canonical_bytes(body)
    replace_rows(rt, [*old, row_for(body)], update_head=True)
    restore_guards(rt)
    return len(old)


def _illegitimate_at(rt: Runtime, seq: int, *words: str) -> str:
    restore_guards(rt)
    assert rt.service.verify_log().ok, "the forgery must be chain-correct, or this test proves nothing"
    result = audit_database(rt.service.engine)
    assert not result.ok and result.first_bad_seq == seq, result
    reason = result.reason or ""
    assert reason.startswith(f"seq {seq}: "), reason
    for word in words:
        assert word in reason, reason
    return reason


def test_a_history_of_every_command_is_accepted(runtime: Runtime) -> None:
    _history(runtime)
    kinds = {r["type"] for r in rows(runtime)}
    assert kinds == {
        "policy_activated", "decision_filed", "comment_added", "decision_amended", "approval_recorded",
        "decision_superseded", "delegation_granted", "delegation_revoked", "decision_withdrawn", "decision_proceeded",
        "baseline_imported",
    }  # fmt: skip
    size = len(rows(runtime))
    result = audit_database(runtime.service.engine)
    assert result.ok and result.size == size and result.first_bad_seq is None and result.reason is None


def test_the_replay_keeps_full_rows_only_for_open_decisions(runtime: Runtime) -> None:
    """Memory grows with the open decisions: a closed one is kept as the little the rules still read."""
    ids = _history(runtime)
    replay = Replay(json.loads(r["body"]) for r in rows(runtime))
    assert replay.run().ok
    assert set(replay.rows) == {ids["pending"], ids["after"]}
    closed = {decision_id: replay.closed_state(decision_id) for decision_id in replay.closed}
    assert {ids["approved"], ids["superseding"], ids["rejected"], ids["withdrawn"], ids["policy"]} <= set(closed)
    approved, policy = closed[ids["approved"]], closed[ids["policy"]]
    assert approved is not None and policy is not None
    assert approved.status == "superseded" and approved.content == {} and approved.filed_by == "mei"
    assert policy.status == "approved" and policy.category == "policy"
    assert policy.attributes == {"candidate_version": runtime.policies.current.version}
    # Closed decisions share their routes: one object per distinct route.
    routes = [s.route for s in closed.values() if s is not None]
    assert len({id(r) for r in routes}) == len({repr(r) for r in routes})


def test_the_filer_approving_her_own_decision_is_named(runtime: Runtime) -> None:
    ids = _history(runtime)
    pending = ids["pending"]
    data = {"verdict": "approve", "reason": None, "role": "tech_pm", "squad": "nucleus", "on_behalf_of": None,
            "approvals": ["mei"], "missing": None, "status": "approved"}  # fmt: skip
    seq = _append_forged(runtime, "approval_recorded", "mei", pending, data)
    reason = _illegitimate_at(runtime, seq, "mei's approval of", pending, "not allowed")
    assert "filed" in reason


def test_a_forged_actor_is_named(runtime: Runtime) -> None:
    ids = _history(runtime)
    seq = _seq_of(runtime, "approval_recorded", ids["approved"])
    drop_guards(runtime)
    # Tomas's approval, now in the name of Ann (an auditor, who may approve nothing).
    rewrite_from(runtime, seq, lambda b: {**b, "actor": "ann"})
    _illegitimate_at(runtime, seq, "ann's approval", "not allowed")


def test_a_forged_verdict_is_named(runtime: Runtime) -> None:
    ids = _history(runtime)
    seq = _seq_of(runtime, "approval_recorded", ids["rejected"])
    drop_guards(runtime)

    def approve(body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "data": {**body["data"], "verdict": "approve"}}

    rewrite_from(runtime, seq, approve)
    _illegitimate_at(runtime, seq, "in the log where the rules give")


def test_a_forged_delegation_is_named(runtime: Runtime) -> None:
    ids = _history(runtime)
    seq = _seq_of(runtime, "delegation_granted")
    drop_guards(runtime)
    # Mei (a squad member) "delegates" the tech PM sign-off she does not hold.
    rewrite_from(runtime, seq, lambda b: {**b, "actor": "mei"})
    _illegitimate_at(runtime, seq, "mei's delegation", "not allowed", "tech_pm")
    assert ids["grant"]


def test_a_dropped_consequence_is_named(runtime: Runtime) -> None:
    ids = _history(runtime)
    superseded = _seq_of(runtime, "decision_superseded", ids["approved"])
    drop_guards(runtime)
    old = rows(runtime)
    # The approval stays, the supersession it caused is cut out and the rest re-chained.
    kept = [json.loads(r["body"]) for r in old[:superseded]] + [json.loads(r["body"]) for r in old[superseded + 1 :]]
    new_rows, prev = [], old[0]["prev_hash"]
    for i, body in enumerate(kept):
        row = row_for({**body, "seq": i, "prev": prev})
        new_rows.append(row)
        prev = row["leaf_hash"]
    replace_rows(runtime, new_rows, update_head=True)
    _illegitimate_at(runtime, superseded, f"seq {superseded - 1} requires decision_superseded here")


def test_forged_content_is_named(runtime: Runtime) -> None:
    ids = _history(runtime)
    seq = _seq_of(runtime, "decision_filed", ids["rejected"])
    drop_guards(runtime)
    # The filing now claims a low risk score, but keeps the tier it really had.
    rewrite_from(runtime, seq, lambda b: {**b, "data": {**b["data"], "attributes": {"risk_score": 5}}})
    _illegitimate_at(runtime, seq, "tier")


def test_the_export_is_audited_offline(runtime: Runtime, tmp_path: Path) -> None:
    ids = _history(runtime)
    runner = CliRunner()
    url = str(runtime.service.engine.url.render_as_string(hide_password=False))
    export = tmp_path / "log.jsonl"
    base = ["--database-url", url, "--policy", str(DEFAULT_POLICY)]
    assert runner.invoke(main, [*base, "log", "export", "-o", str(export)]).exit_code == 0
    with export.open("rb") as lines:
        assert audit_export(lines).ok
    good = runner.invoke(main, [*base, "log", "audit", "--export", str(export)])
    assert good.exit_code == 0, good.output
    assert f"OK: {len(rows(runtime))} events replayed, every step allowed by the rules" in good.stdout
    assert runner.invoke(main, [*base, "log", "audit"]).exit_code == 0

    seq = _seq_of(runtime, "approval_recorded", ids["approved"])
    drop_guards(runtime)
    rewrite_from(runtime, seq, lambda b: {**b, "actor": "mei"})
    assert runner.invoke(main, [*base, "log", "export", "-o", str(export)]).exit_code == 0
    for args in (["log", "audit", "--export", str(export)], ["log", "audit"]):
        bad = runner.invoke(main, [*base, *args])
        assert bad.exit_code == 1
        [line] = bad.stdout.splitlines()
        assert line.startswith(f"ILLEGITIMATE: seq {seq}: mei's approval of {ids['approved']}")
