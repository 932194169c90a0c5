"""Random commands by random people of every role against the real service, judged from the log.

A hypothesis state machine files (with and without `supersedes`), approves, rejects, withdraws,
amends, comments, breaks the glass, delegates and revokes, proposes and approves policies and
moves the clock, under each quorum variant of issue 14, on SQLite and PostgreSQL. A refusal
(a DomainError) is an expected outcome; any other exception fails the test. After every step
an independent judge (tests/legitimacy/oracle.py) replays the log and must find every step
allowed, and the read model must say what the log says. SOAK=1 runs it longer.
"""

from __future__ import annotations

import contextlib
import copy
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, multiple, rule

from engine.errors import DomainError
from engine.log.canonical import GENESIS_PREV, canonical_bytes, leaf_hash
from engine.log.chain import verify_export
from engine.runtime import Runtime, open_runtime, upgrade_database
from engine.types import (
    AmendRequest,
    CommentRequest,
    DelegationRequest,
    FilingRequest,
    ProceedRequest,
    VerdictRequest,
    WithdrawRequest,
)
from policy import load_policy_text
from tests.legitimacy.oracle import Oracle
from tests.legitimacy.policies import VARIANTS, variant_text
from tests.support import ManualClock, database_url_for

SOAK = os.environ.get("SOAK") == "1"
#: Bounded for CI (~1-2 minutes for the file); SOAK=1 explores at random, as long as asked.
EXAMPLES = {
    "sqlite": int(os.environ.get("LEGITIMACY_EXAMPLES", 200 if SOAK else 5)),
    "postgresql": int(os.environ.get("LEGITIMACY_EXAMPLES", 100 if SOAK else 2)),
}
STEPS = int(os.environ.get("LEGITIMACY_STEPS", 120 if SOAK else 30))
#: Events forged per example in CI (each in one way); SOAK=1 forges every event every way.
FORGED_EVENTS_PER_EXAMPLE = 8

PEOPLE = ["dana", "tomas", "priya", "mei", "jon", "sofia", "ravi", "lena", "omar", "ann", "adm"]
ROLES = ["director", "tech_pm", "squad_member", "admin", "auditor"]
#: (category, attributes): tiers 1, 2 and 3 under the default parameters, with and without rules.
FILINGS: list[tuple[str, dict[str, Any]]] = [
    ("reporting_format", {"client_format": "csv"}),
    ("reporting_format", {"client_format": "pdf"}),
    ("pipeline", {"risk_score": 10}),
    ("pipeline", {"risk_score": 33}),
    ("pipeline", {"risk_score": 60}),
    ("quality_threshold", {"deviation_pct": 1.5}),
    ("quality_threshold", {"deviation_pct": 1.5, "affected_clients": 3}),
    ("quality_threshold", {"deviation_pct": 3.0}),
    ("domain", {"change": "new_category", "domain": "code"}),
    ("annotator_tier", {"annotator": "a-1", "to_tier": "specialist"}),
    ("contract", {"change": "scope"}),
    ("contract", {"change": "pricing"}),
    ("benchmark", {"benchmark": "reasoning-suite"}),
    ("no_such_category", {"x": 1}),
]
#: Candidate policies differ only in a parameter: the directory and the tiers never change.
RISK_BOUNDS = [20, 35, 50]

people = st.sampled_from(PEOPLE)
reasons = st.sampled_from([None, "", "because", "client asked"])


def _bodies(rt: Runtime) -> list[dict[str, Any]]:
    return [msgspec.json.decode(row["body"]) for row in rt.service.iter_event_rows()]


try:  # the replay audit (issue 14, item 3): checked here from the moment it exists
    from engine.log.audit import audit_export
except ImportError:  # pragma: no cover - until engine/log/audit.py lands
    audit_export = None


def _export(bodies: list[dict[str, Any]]) -> list[bytes]:
    """The bodies as a JSONL export with the chain recomputed: a forgery `log verify` cannot see."""
    lines, prev = [], GENESIS_PREV
    for body in bodies:
        raw = canonical_bytes({**body, "prev": prev})
        lines.append(raw + b"\n")
        prev = leaf_hash(raw).hex()
    return lines


def _forgeries(bodies: list[dict[str, Any]], seq: int, oracle: Oracle) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Single-event forgeries of event `seq`: (what was forged, the forged history)."""
    body = bodies[seq]
    data = body["data"]
    case = oracle_case_filer(bodies, body.get("decision_id"))

    def forged(**changes: Any) -> list[dict[str, Any]]:
        new = copy.deepcopy(body)
        for key, value in changes.items():
            if key.startswith("data."):
                new["data"][key[5:]] = value
            else:
                new[key] = value
        return [*bodies[:seq], new, *bodies[seq + 1 :]]

    kind = body["type"]
    if kind == "approval_recorded":
        if case is not None:
            yield "the filer as the approver", forged(actor=case)
        yield "an auditor as the approver", forged(actor="ann")
        yield "the verdict flipped", forged(**{"data.verdict": "reject" if data["verdict"] == "approve" else "approve"})
        if data.get("on_behalf_of"):
            yield "the delegation dropped", forged(**{"data.on_behalf_of": None})
        else:
            yield (
                "a delegation invented",
                forged(**{"data.on_behalf_of": "dana" if body["actor"] != "dana" else "priya"}),
            )
    elif kind == "delegation_granted":
        yield "granted by someone without the role", forged(actor="ann")
        yield "another delegate", forged(**{"data.delegate": "jon" if data["delegate"] != "jon" else "ravi"})
        yield "another role", forged(**{"data.role": "director" if data["role"] != "director" else "tech_pm"})
    elif kind == "decision_filed":
        yield "another tier", forged(**{"data.tier": 3 if data["tier"] != 3 else 1})
        attributes = {**data["attributes"], "forged": True}
        yield "other content", forged(**{"data.attributes": attributes})
        yield "another title", forged(**{"data.title": data["title"] + "!"})
    elif kind in {"decision_withdrawn", "decision_amended", "decision_proceeded"}:
        yield "done by someone else", forged(actor="priya" if body["actor"] != "priya" else "tomas")


def _audit_checks(bodies: list[dict[str, Any]], seqs: Iterable[int], oracle: Oracle, every_kind: bool = True) -> None:
    """The audit accepts `bodies` and rejects each forgery of the events at `seqs` that the judge rejects."""
    assert audit_export is not None
    real = audit_export(_export(bodies))
    assert real.ok, f"the audit refuses a history the judge accepts: {real.reason}"
    for seq in seqs:
        forgeries = list(_forgeries(bodies, seq, oracle))
        if not every_kind and forgeries:
            forgeries = [forgeries[seq % len(forgeries)]]
        for what, history in forgeries:
            lines = _export(history)
            assert verify_export(lines).ok  # chain-correct: only the audit can tell
            judged = oracle.judge(history)
            if judged.ok and what != "another tier":
                continue  # a forgery that is itself a legitimate history proves nothing
            caught = audit_export(lines)
            assert not caught.ok, f"seq {seq} forged ({what}) passes the audit: {judged.violations}"
            assert caught.first_bad_seq is not None and caught.first_bad_seq >= seq, caught


def oracle_case_filer(bodies: list[dict[str, Any]], decision_id: str | None) -> str | None:
    for body in bodies:
        if body["type"] == "decision_filed" and body["decision_id"] == decision_id:
            return str(body["actor"])
    return None


def make_machine(backend: str, variant: str, workdir: Path) -> type[RuleBasedStateMachine]:
    base_text = variant_text(variant)
    oracle = Oracle(load_policy_text(base_text, f"{variant}.yaml"))

    class Legitimacy(RuleBasedStateMachine):
        decisions = Bundle("decisions")
        grants = Bundle("grants")
        candidates = Bundle("candidates")

        def __init__(self) -> None:
            super().__init__()
            self.stack = contextlib.ExitStack()
            home = Path(tempfile.mkdtemp(dir=workdir))
            os.environ["DECISIONS_STATE_DIR"] = str(home / "state")
            url = self.stack.enter_context(database_url_for(backend, home))
            upgrade_database(url)
            policy_path = home / "policies.yaml"
            policy_path.write_text(base_text, encoding="utf-8")
            self.clock = ManualClock()
            self.rt = open_runtime(url, str(policy_path), clock=self.clock)
            self.stack.callback(self.rt.close)
            self.bodies = _bodies(self.rt)
            self.judgement = oracle.judge(self.bodies)
            self.forged_up_to = 0

        def teardown(self) -> None:
            try:
                if audit_export is not None and not SOAK:
                    bodies = _bodies(self.rt)
                    step = max(1, len(bodies) // FORGED_EVENTS_PER_EXAMPLE)
                    _audit_checks(bodies, range(len(bodies) - 1, -1, -step), oracle, every_kind=False)
            finally:
                self.stack.close()

        def person(self, name: str) -> Any:
            return self.rt.policies.current.people[name]

        def attempt(self, label: str, command: Callable[[], Any]) -> Any:
            try:
                done = command()
            except DomainError as exc:
                event(f"{label}: refused")  # --hypothesis-show-statistics tells how often each command lands
                return exc
            event(f"{label}: done")
            return done

        # -- commands -----------------------------------------------------------------------------

        @rule(target=decisions, who=people, filing=st.sampled_from(FILINGS), title=st.sampled_from(["a", "b"]))
        def file(self, who: str, filing: tuple[str, dict[str, Any]], title: str) -> Any:
            category, attributes = filing
            request = FilingRequest(title=title, category=category, attributes=attributes)
            out = self.attempt("file", lambda: self.rt.service.file(self.person(who), request))
            return multiple() if isinstance(out, DomainError) else out.decision.id

        @rule(target=decisions, who=people, filing=st.sampled_from(FILINGS), old=decisions)
        def file_superseding(self, who: str, filing: tuple[str, dict[str, Any]], old: str) -> Any:
            category, attributes = filing
            request = FilingRequest(title="instead", category=category, attributes=attributes, supersedes=old)
            out = self.attempt("supersede", lambda: self.rt.service.file(self.person(who), request))
            return multiple() if isinstance(out, DomainError) else out.decision.id

        @rule(target=decisions, who=people, candidate=candidates)
        def file_policy(self, who: str, candidate: str) -> Any:
            request = FilingRequest(title="policy", category="policy", attributes={"candidate_version": candidate})
            out = self.attempt("file policy", lambda: self.rt.service.file(self.person(who), request))
            return multiple() if isinstance(out, DomainError) else out.decision.id

        @rule(target=candidates, bound=st.sampled_from(RISK_BOUNDS))
        def propose(self, bound: int) -> str:
            text = base_text.replace("pipeline_risk_max: 30", f"pipeline_risk_max: {bound}")
            return self.rt.governance.propose(text, f"candidate-{bound}.yaml").version

        @rule(who=people, decision=decisions, verdict=st.sampled_from(["approve", "approve", "reject"]), why=reasons)
        def verdict(self, who: str, decision: str, verdict: Any, why: str | None) -> None:
            request = VerdictRequest(verdict=verdict, reason=why)
            before = self.judgement.cases.get(decision)
            must = (
                verdict == "approve"
                and before is not None
                and before.status in {"pending", "proceeded_pending_review"}
                and oracle.rule(before.tier) is not None
                and oracle.may_approve_in_own_right(who, before)
                and oracle.would_add(before, who)
            )
            out = self.attempt(verdict, lambda: self.rt.service.decide(self.person(who), decision, request))
            if must and isinstance(out, DomainError):
                # An eligible person whose approval adds to the quorum must not be turned away.
                raise AssertionError(f"{who} was refused approving {decision} ({before}): {out}")

        @rule(who=people, decision=decisions, why=reasons)
        def withdraw(self, who: str, decision: str, why: str | None) -> None:
            before = self.judgement.cases.get(decision)
            out = self.attempt(
                "withdraw", lambda: self.rt.service.withdraw(self.person(who), decision, WithdrawRequest(reason=why))
            )
            if before is not None and before.status == "pending" and before.filer == who:
                assert not isinstance(out, DomainError), f"the filer could not withdraw a pending decision: {out}"

        @rule(who=people, decision=decisions, filing=st.sampled_from(FILINGS), title=st.sampled_from([None, "a", "c"]))
        def amend(self, who: str, decision: str, filing: tuple[str, dict[str, Any]], title: str | None) -> None:
            # Only the attributes of the decision's own category are meaningful; others are refused.
            request = AmendRequest(title=title, attributes=filing[1], reason="changed")
            self.attempt("amend", lambda: self.rt.service.amend(self.person(who), decision, request))

        @rule(who=people, decision=decisions)
        def amend_title_only(self, who: str, decision: str) -> None:
            request = AmendRequest(title="retitled", reason="wording")
            self.attempt("amend", lambda: self.rt.service.amend(self.person(who), decision, request))

        @rule(who=people, decision=decisions)
        def comment(self, who: str, decision: str) -> None:
            request = CommentRequest(text="a <b>comment</b>")
            self.attempt("comment", lambda: self.rt.service.comment(self.person(who), decision, request))

        @rule(who=people, decision=decisions, why=st.sampled_from(["", "hotfix"]))
        def proceed(self, who: str, decision: str, why: str) -> None:
            try:  # the boundary refuses a blank reason (400) before the rules see it
                request = msgspec.convert({"reason": why or " "}, ProceedRequest)
            except msgspec.ValidationError:
                event("proceed: refused at the boundary")
                return
            self.attempt("proceed", lambda: self.rt.service.proceed(self.person(who), decision, request))

        @rule(
            target=grants,
            who=people,
            to=st.sampled_from([*PEOPLE, "nobody"]),
            role=st.sampled_from(ROLES),
            starts=st.sampled_from([-2, 0, 5]),
            hours=st.sampled_from([1, 24, 24 * 10]),
        )
        def delegate(self, who: str, to: str, role: str, starts: int, hours: int) -> Any:
            begin = self.clock.now + timedelta(hours=starts)
            request = DelegationRequest(delegate=to, role=role, starts_at=begin, ends_at=begin + timedelta(hours=hours))
            out = self.attempt("delegate", lambda: self.rt.service.delegate(self.person(who), request))
            return multiple() if isinstance(out, DomainError) else out.id

        @rule(who=people, grant=consumes(grants))
        def revoke(self, who: str, grant: str) -> None:
            self.attempt("revoke", lambda: self.rt.service.revoke_delegation(self.person(who), grant))

        @rule(hours=st.sampled_from([1, 6, 30, 24 * 8]))
        def tick(self, hours: int) -> None:
            self.clock.advance(hours=hours)

        # -- judged after every step --------------------------------------------------------------

        @invariant()
        def every_step_was_allowed(self) -> None:
            self.bodies = _bodies(self.rt)
            judgement = oracle.judge(self.bodies)
            assert judgement.ok, "\n".join(f"seq {seq}: {why}" for seq, why in judgement.violations)
            self.judgement = judgement

        @invariant()
        def the_audit_accepts_the_history_and_rejects_forgeries(self) -> None:
            # A replay audit costs a policy compilation (~0.1 s): in CI it runs once per example, at
            # teardown, on the whole history (accepting it accepts every prefix, since the audit
            # replays in order) with a sample of forgeries; SOAK=1 checks every step and every forgery.
            if audit_export is None or not SOAK:
                return
            _audit_checks(self.bodies, range(self.forged_up_to, len(self.bodies)), oracle)
            self.forged_up_to = len(self.bodies)

        @invariant()
        def the_read_model_says_what_the_log_says(self) -> None:
            for case in self.judgement.cases.values():
                assert self.rt.service.get(case.id).status == case.status, case.id

    return Legitimacy


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_only_the_people_with_the_authority_decide(backend: str, variant: str, tmp_path: Path) -> None:
    if backend == "postgresql":
        from tests.support import postgres_or_skip

        postgres_or_skip()
    machine = make_machine(backend, variant, tmp_path)
    machine.TestCase.settings = settings(
        max_examples=EXAMPLES[backend],
        stateful_step_count=STEPS,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=not SOAK,
        database=None,
    )
    state_dir = os.environ.get("DECISIONS_STATE_DIR")
    try:
        machine.TestCase().runTest()
    finally:
        if state_dir is not None:
            os.environ["DECISIONS_STATE_DIR"] = state_dir
