"""The rules' refusals word for word, the events' types, and the edges mutation testing found unguarded.

A refusal is what a person reads when the service says no (the API's problem detail, the CLI's
one line, the audit's reason), so each sentence below is asserted whole, not by a fragment: a
changed word is a changed contract. The rest pins behaviour `mutmut` showed no test would notice
(docs/mutation.md): which event a step logs, a route that must leave its filer out, the tier a
replacement keeps, a candidate policy's text in the log.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, tzinfo
from hashlib import sha256
from typing import Any

import msgspec
import pytest

from engine.content import content_hash
from engine.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from engine.lifecycle import (
    Activate,
    Amend,
    Authority,
    Comment,
    DecisionState,
    Delegate,
    File,
    Grant,
    Proceed,
    RevokeDelegation,
    Withdraw,
    amend,
    comment,
    decide,
    give_verdict,
    state_of,
    supersede,
)
from engine.quorum import Vote
from engine.routing import route_for
from policy.compiled import Person
from tests.engine.test_decide import CANDIDATE, CANDIDATE_TEXT, NOW, PEOPLE, POLICY, TEXT, Book

OTHER_TEXT = TEXT.replace("pipeline_risk_max: 30", "pipeline_risk_max: 40")


def _refusal(kind: type[DomainError], run: Any) -> str:
    with pytest.raises(kind) as refused:
        run()
    return str(refused.value)


def _field_error(run: Any) -> tuple[str, str]:
    with pytest.raises(InvalidInput) as refused:
        run()
    [error] = refused.value.errors
    return error.path, error.message


# -- what each step logs ------------------------------------------------------------------------------------


def test_each_filer_step_logs_its_own_event_type_and_keeps_the_status_it_should() -> None:
    book = Book()
    book.file("mei", "pipeline", {"risk_score": 60}, "D1")
    comment = book.run(Comment("looks fine"), "jon", "D1").events[0]
    assert (comment.type, comment.decision_id, comment.data) == ("comment_added", "D1", {"text": "looks fine"})
    assert book.status("D1") == "pending" and book.rows["D1"]["last_seq"] == 1
    withdrawn = book.run(Withdraw("not needed"), "mei", "D1").events[0]
    assert (withdrawn.type, withdrawn.data) == ("decision_withdrawn", {"reason": "not needed", "status": "withdrawn"})
    assert book.status("D1") == "withdrawn"
    book.file("mei", "pipeline", {"risk_score": 60}, "D2")
    proceeded = book.run(Proceed("the client is waiting"), "mei", "D2").events[0]
    assert proceeded.type == "decision_proceeded"
    assert proceeded.data == {
        "reason": "the client is waiting",
        "status": "proceeded_pending_review",
        "approvers": ["priya", "tomas"],
    }
    # A comment on a decision that proceeded leaves it where it is.
    assert book.run(Comment("noted"), "jon", "D2").status is None
    assert book.status("D2") == "proceeded_pending_review"


def test_a_comment_on_a_closed_decision_keeps_its_status() -> None:
    book = Book()
    book.file("mei", "pipeline", {"risk_score": 3}, "R1")
    assert comment(state_of(book.rows["R1"]), PEOPLE["jon"], "why?").status == "resolved"


# -- refusals, word for word ----------------------------------------------------------------------------------


def test_the_filer_steps_refuse_in_words() -> None:
    book = Book()
    book.file("mei", "pipeline", {"risk_score": 60}, "D1")
    assert (
        _refusal(Forbidden, lambda: book.run(Withdraw(None), "jon", "D1"))
        == "only the filer (mei) may withdraw this decision"
    )
    assert (
        _refusal(Forbidden, lambda: book.run(Proceed("now"), "jon", "D1"))
        == "only the filer (mei) may break the glass on this decision"
    )
    assert _field_error(lambda: book.run(Proceed("  "), "mei", "D1")) == (
        "$.reason",
        "break-glass needs a reason: what harm does waiting cause?",
    )
    assert _field_error(lambda: book.run(Comment(" "), "jon", "D1")) == ("$.text", "a comment needs some text")
    two_roles = Person("ann", frozenset({"auditor", "observer"}))
    assert (
        _refusal(Forbidden, lambda: book.run(Comment("hi"), two_roles, "D1"))
        == "ann holds only auditor, observer, which is read-only"
    )
    assert (
        _refusal(Forbidden, lambda: book.run(Comment("hi"), Person("nobody", frozenset()), "D1"))
        == "nobody holds only no role, which is read-only"
    )
    assert (
        _refusal(Forbidden, lambda: book.run(File("x", "pipeline", {"risk_score": 3}), two_roles, new_id="D9"))
        == "ann holds only auditor, observer, which is read-only"
    )

    book.run(Proceed("the client is waiting"), "mei", "D1")
    already = "decision D1 already proceeded under break-glass; it can only be ratified or rejected"
    assert _refusal(Conflict, lambda: book.run(Withdraw(None), "mei", "D1")) == already
    assert (
        _refusal(Conflict, lambda: book.run(Proceed("again"), "mei", "D1"))
        == "decision D1 is proceeded_pending_review, not pending"
    )

    book.file("mei", "pipeline", {"risk_score": 60}, "D2")
    book.run(Withdraw(None), "mei", "D2")
    assert (
        _refusal(Conflict, lambda: book.run(Withdraw(None), "mei", "D2"))
        == "decision D2 is already withdrawn; it cannot be withdrawn"
    )
    assert (
        _refusal(Conflict, lambda: book.run(Proceed("now"), "mei", "D2"))
        == "decision D2 is already withdrawn; it cannot be proceeded with"
    )


def test_break_glass_where_the_tier_does_not_allow_it_is_refused_in_words() -> None:
    tier = dataclasses.replace(POLICY.tiers[2], break_glass=False)
    book = Book(dataclasses.replace(POLICY, tiers={**POLICY.tiers, 2: tier}))
    book.file("mei", "pipeline", {"risk_score": 60}, "D1")
    assert (
        _refusal(Forbidden, lambda: book.run(Proceed("now"), "mei", "D1"))
        == "the policy does not allow break-glass for tier 2 (Tech PM sign-off)"
    )


def test_a_command_on_no_decision_and_a_filing_without_an_id_are_refused_in_words() -> None:
    assert _refusal(NotFound, lambda: decide(Withdraw(None), PEOPLE["mei"], Authority(POLICY, NOW))) == (
        "no such decision"
    )
    with pytest.raises(ValueError) as no_id:
        decide(File("x", "pipeline", {"risk_score": 3}), PEOPLE["mei"], Authority(POLICY, NOW))
    assert str(no_id.value) == "a filing needs the id minted for it"


def test_a_decision_out_of_force_cannot_be_superseded_in_words() -> None:
    book = Book()
    book.file("mei", "pipeline", {"risk_score": 60}, "D1")
    with pytest.raises(Conflict) as refused:
        supersede(state_of(book.rows["D1"]), "D2")
    assert str(refused.value) == "decision D1 is pending; it cannot be superseded"
    assert _field_error(lambda: book.file("mei", "pipeline", {"risk_score": 3}, "D2", supersedes="D1")) == (
        "$.supersedes",
        "decision D1 is pending; only a resolved or approved decision can be superseded",
    )


def test_a_policy_decision_naming_no_candidate_is_refused_in_words() -> None:
    message = (
        "no candidate policy has this version: propose it first "
        "(`decisions policy propose FILE` or POST /v1/policy/candidates)"
    )
    assert _field_error(lambda: Book().file("adm", "policy", {"candidate_version": CANDIDATE.version}, "D1")) == (
        "$.attributes.candidate_version",
        message,
    )


def test_delegation_refusals_in_words() -> None:
    book = Book()
    start = NOW

    def delegate(to: str, starts: datetime = start, ends: datetime = start + timedelta(days=1)) -> Any:
        return lambda: book.run(Delegate("G1", to, "tech_pm", starts, ends), "tomas")

    message = "name another person of the policy's directory"
    assert _field_error(delegate("tomas")) == ("$.delegate", message)
    assert _field_error(delegate("nobody")) == ("$.delegate", message)
    naive = datetime(2026, 3, 2, 17, 0)
    zone = "needs a time zone (e.g. 2026-12-24T00:00:00Z)"
    assert _field_error(delegate("jon", starts=naive)) == ("$.starts_at", zone)
    assert _field_error(delegate("jon", ends=naive)) == ("$.ends_at", zone)
    assert _field_error(delegate("jon", ends=start)) == ("$.ends_at", "must be after starts_at")
    grant = Grant("G1", "tomas", "jon", "tech_pm", start, start + timedelta(days=1))
    assert (
        _refusal(Forbidden, lambda: book.run(RevokeDelegation("G1"), "priya", grant=grant))
        == "only the person who delegated may revoke the delegation"
    )


class _Undecided(tzinfo):
    """A time zone that cannot say its offset: as good as none."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None


def test_a_time_zone_without_an_offset_is_no_time_zone() -> None:
    undecided = datetime(2026, 3, 2, 17, 0, tzinfo=_Undecided())
    command = Delegate("G1", "jon", "tech_pm", undecided, NOW + timedelta(days=1))
    with pytest.raises(InvalidInput) as refused:
        Book().run(command, "tomas")
    assert refused.value.errors[0].path == "$.starts_at"


def test_an_activation_names_the_short_version_it_could_not_find() -> None:
    version = "0123456789abcdef" * 4
    refusal = _refusal(Forbidden, lambda: Book().run(Activate(version, "text"), "adm"))
    assert refusal == "no approved `policy` decision names version 0123456789ab"


@pytest.mark.parametrize(
    ("attributes", "path", "message"),
    [
        ({"x": [[[[[[[[[1]]]]]]]]]}, "$.attributes.x[0][0][0][0][0][0][0][0]", "nested too deeply (at most 8 levels)"),
        ({"x": [[[[[[[1]]]]]]]}, None, None),  # the number at depth 8: fits
        ({"x": [float("nan")]}, "$.attributes.x[0]", "must be a finite number"),
        ({"x": [2**63]}, "$.attributes.x[0]", "integers must fit in 64 bits"),
    ],
)
def test_what_the_log_cannot_hold_is_named_exactly(
    attributes: dict[str, Any], path: str | None, message: str | None
) -> None:
    book = Book()
    if path is None:
        assert book.file("mei", "no_such_category", attributes, "D1").status == "pending"
        return
    assert _field_error(lambda: book.file("mei", "no_such_category", attributes, "D1")) == (path, message)


# -- routes and tiers of replacements and amendments -----------------------------------------------------------


def test_a_filing_route_leaves_its_filer_out() -> None:
    outcome = Book().file("tomas", "pipeline", {"risk_score": 60}, "D1")
    assert outcome.events[0].data["route"]["approvers"] == ["priya"]


def test_an_amendment_route_leaves_its_filer_out() -> None:
    book = Book()
    book.file("tomas", "pipeline", {"risk_score": 60}, "D1")
    outcome = book.run(Amend(attributes={"risk_score": 70}), "tomas", "D1")
    assert outcome.events[0].data["route"]["approvers"] == ["priya"]


def test_a_replacement_of_the_same_tier_adds_no_rule() -> None:
    book = Book()
    book.file("ravi", "contract", {"change": "scope"}, "C1")
    book.approve("dana", "C1")
    filed = book.file("ravi", "contract", {"change": "term"}, "C2", supersedes="C1").events[0]
    assert filed.data["tier"] == 3
    assert [r["id"] for r in filed.data["matched_rules"]] == [r["id"] for r in _rules("contract", {"change": "term"})]
    outcome = book.run(Amend(attributes={"change": "pricing"}), "ravi", "C2", related="C1")
    assert "supersedes" not in [r["id"] for r in outcome.events[0].data["matched_rules"]]
    # Still pending: what it replaces stays in force until it is approved.
    assert [e.type for e in outcome.events] == ["decision_amended"] and book.status("C1") == "approved"


def _rules(category: str, attributes: dict[str, Any]) -> list[dict[str, Any]]:
    return Book().file("ravi", category, attributes, "X").events[0].data["matched_rules"]  # type: ignore[no-any-return]


def test_a_resolved_replacement_names_itself_as_what_superseded_the_old_one() -> None:
    book = Book()
    book.file("mei", "pipeline", {"risk_score": 3}, "R1")
    outcome = book.file("mei", "pipeline", {"risk_score": 4}, "R2", supersedes="R1")
    superseded = outcome.events[1]
    assert (superseded.type, superseded.decision_id, superseded.actor) == ("decision_superseded", "R1", "system")
    assert superseded.data == {"superseded_by": "R2", "status": "superseded"}
    book.file("mei", "pipeline", {"risk_score": 60}, "D1", supersedes="R2")
    amended = book.run(Amend(attributes={"risk_score": 5}), "mei", "D1", related="R2")
    assert amended.events[1].data == {"superseded_by": "D1", "status": "superseded"}


def test_an_amendment_that_resolves_a_decision_replacing_nothing_just_resolves() -> None:
    book = Book()
    book.file("mei", "pipeline", {"risk_score": 60}, "D1")
    outcome = book.run(Amend(attributes={"risk_score": 5}), "mei", "D1")
    assert [e.type for e in outcome.events] == ["decision_amended"] and book.status("D1") == "resolved"


def test_an_amendment_hashes_the_content_with_its_defaults_filled() -> None:
    book = Book()
    book.file("mei", "quality_threshold", {"deviation_pct": 3.5}, "D1")
    amended = book.run(Amend(attributes={"deviation_pct": 4.0}), "mei", "D1").events[0]
    assert amended.data["attributes"] == {"deviation_pct": 4.0, "affected_clients": 1}
    assert amended.data["content_hash"] == content_hash(book.rows["D1"])


def test_an_amendment_of_an_unknown_category_has_no_immaterial_field() -> None:
    book = Book()
    book.file("mei", "no_such_category", {"a": 1}, "D1")
    outcome = book.run(Amend(attributes={"a": 2}), "mei", "D1")
    assert outcome.events[0].data["tier"] == POLICY.unknown_category_tier and book.status("D1") == "pending"


def test_an_amendment_that_changes_nothing_keeps_its_approvals() -> None:
    tier = POLICY.tiers[2]
    route = route_for(POLICY, 2, "mei")
    vote = Vote("tomas", "tech_pm", "nucleus", "tomas", "h")
    state = DecisionState(
        "D1", "pending", "mei", 2, route, votes=(vote,), attributes={"note": "a"}, category="pipeline"
    )
    kept, dismissed, _ = amend(state, PEOPLE["mei"], tier, {"attributes": {"note": "a"}}, route, "when_material")
    assert kept == [vote] and dismissed == []


# -- the rules' view of a row, and delegations in force -----------------------------------------------------------


def test_state_of_an_older_row_takes_the_defaults() -> None:
    book = Book()
    book.file("mei", "pipeline", {"risk_score": 60}, "D1")
    row = {k: v for k, v in book.rows["D1"].items() if k not in ("category", "known_category")}
    state = state_of(row)
    assert state.category == "" and state.known_category is True
    book.file("mei", "no_such_category", {"a": 1}, "U1")
    unknown = state_of(book.rows["U1"])
    assert unknown.known_category is False and unknown.category == "no_such_category"


def test_only_grants_to_the_actor_whose_delegator_still_holds_the_role_are_in_force() -> None:
    day = timedelta(days=1)
    other = Grant("G0", "priya", "ravi", "tech_pm", NOW - day, NOW + day)
    mine = Grant("G1", "tomas", "jon", "tech_pm", NOW - day, NOW + day)
    lapsed = Grant("G2", "dana", "jon", "tech_pm", NOW - day, NOW + day)  # dana is no tech PM
    gone = Grant("G3", "nobody", "jon", "tech_pm", NOW - day, NOW + day)  # not in the directory
    authority = Authority(POLICY, NOW, (other, mine, lapsed, gone))
    assert authority.delegators(PEOPLE["jon"]) == [(PEOPLE["tomas"], "tech_pm")]


# -- a candidate policy's text in the log ---------------------------------------------------------------------------


class _Unknown(Mapping[str, str]):
    """Candidates as a replay of an old log knows them: any version taken as proposed, no text."""

    def __getitem__(self, version: str) -> str:
        raise KeyError(version)

    def __contains__(self, version: object) -> bool:
        return isinstance(version, str)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def test_a_policy_decision_logs_its_candidate_text_at_filing_and_when_it_names_another() -> None:
    other_version = sha256(OTHER_TEXT.encode()).hexdigest()
    book = Book(candidates={CANDIDATE.version: CANDIDATE_TEXT, other_version: OTHER_TEXT})
    filed = book.file("adm", "policy", {"candidate_version": CANDIDATE.version}, "D1").events[0]
    assert filed.data["candidate_text"] == CANDIDATE_TEXT
    retitled = book.run(Amend(title="clearer"), "adm", "D1").events[0]
    assert "candidate_text" not in retitled.data
    renamed = book.run(Amend(attributes={"candidate_version": other_version}), "adm", "D1").events[0]
    assert renamed.data["candidate_text"] == OTHER_TEXT
    # Other decisions carry none, and neither does a policy decision whose text the authority does not know.
    assert "candidate_text" not in book.file("mei", "pipeline", {"risk_score": 3}, "D2").events[0].data
    old_log = Book()
    old_log.candidates = _Unknown()  # type: ignore[assignment]
    assert "candidate_text" not in old_log.file("adm", "policy", {"candidate_version": "ab"}, "D3").events[0].data


# -- verdicts ---------------------------------------------------------------------------------------------------

PM_TIER = POLICY.tiers[2]


def _pending_tier2(filer: str = "mei", votes: tuple[Vote, ...] = (), status: str = "pending") -> DecisionState:
    return DecisionState(
        "D1", status, filer, 2, route_for(POLICY, 2, filer), votes=votes, category="pipeline", content_hash="h"
    )


def test_verdict_refusals_in_words() -> None:
    resolved = DecisionState("R1", "resolved", "mei", 1, route_for(POLICY, 1, "mei"), category="pipeline")
    with pytest.raises(Conflict) as squad:
        give_verdict(resolved, POLICY.tiers[1], PEOPLE["tomas"], "approve", None)
    assert str(squad.value) == "tier 1 (Squad) decisions are resolved by the squad; there is nothing to approve"
    own = _pending_tier2("tomas")
    with pytest.raises(Forbidden) as filer:
        give_verdict(own, PM_TIER, PEOPLE["tomas"], "approve", None)
    assert str(filer.value) == "you filed this decision; its approver must be someone else"
    with pytest.raises(Conflict) as closed:
        give_verdict(_pending_tier2(status="approved"), PM_TIER, PEOPLE["tomas"], "approve", None)
    assert str(closed.value) == "decision D1 is already approved; it cannot be approved or rejected"
    with pytest.raises(Conflict) as unknown:
        give_verdict(_pending_tier2(status="draft"), PM_TIER, PEOPLE["tomas"], "approve", None)
    assert str(unknown.value) == "decision D1 is draft; nothing to approve"


def test_a_delegation_from_the_filer_alone_is_refused_with_the_actor_own_reason() -> None:
    """jon holds only tomas's sign-off, and tomas filed: nothing counts, and jon is told why he may not sign."""
    state = _pending_tier2("tomas")
    with pytest.raises(Forbidden) as refused:
        give_verdict(state, PM_TIER, PEOPLE["jon"], "approve", None, [(PEOPLE["tomas"], "tech_pm")])
    assert str(refused.value) == "tier 2 (Tech PM sign-off) needs a tech_pm to sign off; jon holds squad_member"


def test_a_delegation_from_the_filer_is_skipped_not_the_end_of_the_search() -> None:
    state = _pending_tier2("tomas")
    delegators = [(PEOPLE["tomas"], "tech_pm"), (PEOPLE["priya"], "tech_pm")]
    t = give_verdict(state, PM_TIER, PEOPLE["jon"], "approve", None, delegators)
    assert t.data["on_behalf_of"] == "priya" and t.status == "approved"


def test_a_delegator_who_already_approved_cannot_be_used_to_reject() -> None:
    approved_by_priya = (Vote("priya", "tech_pm", "atlas", "priya", "h"),)
    two = dataclasses.replace(PM_TIER, approvers=dataclasses.replace(PM_TIER.approvers, count=2))  # type: ignore[type-var]
    state = dataclasses.replace(_pending_tier2(votes=approved_by_priya), route=route_for(
        dataclasses.replace(POLICY, tiers={**POLICY.tiers, 2: two}), 2, "mei"))  # fmt: skip
    with pytest.raises(Conflict) as refused:
        give_verdict(state, two, PEOPLE["jon"], "reject", "no", [(PEOPLE["priya"], "tech_pm")])
    assert str(refused.value).startswith("your approval would not count: ")


def test_a_candidate_that_adds_nothing_is_passed_over_for_the_next() -> None:
    """On a `distinct: squad` tier tomas's own vote would repeat squad nucleus; priya's (atlas), which he holds,
    counts. Without it, he is told what the quorum still needs."""
    squads = dataclasses.replace(
        PM_TIER,
        approvers=dataclasses.replace(PM_TIER.approvers, count=2, distinct="squad"),  # type: ignore[type-var]
    )
    policy = dataclasses.replace(POLICY, tiers={**POLICY.tiers, 2: squads})
    nucleus = (Vote("tess", "tech_pm", "nucleus", "tess", "h"),)
    state = dataclasses.replace(_pending_tier2(votes=nucleus), route=route_for(policy, 2, "mei"))
    t = give_verdict(state, squads, PEOPLE["tomas"], "approve", None, [(PEOPLE["priya"], "tech_pm")])
    assert (t.data["on_behalf_of"], t.data["squad"], t.status) == ("priya", "atlas", "approved")
    with pytest.raises(Conflict) as refused:
        give_verdict(state, squads, PEOPLE["tomas"], "approve", None)
    assert str(refused.value) == (
        "your approval would not count: needs 1 more approval(s) by a tech_pm from a squad not yet counted "
        "(counted: nucleus)"
    )


def test_a_rejection_needs_a_reason_and_records_what_stood() -> None:
    voted = (Vote("tomas", "tech_pm", "nucleus", "tomas", "h"),)
    two = dataclasses.replace(PM_TIER, approvers=dataclasses.replace(PM_TIER.approvers, count=2))  # type: ignore[type-var]
    state = dataclasses.replace(
        _pending_tier2(votes=voted),
        route=route_for(dataclasses.replace(POLICY, tiers={**POLICY.tiers, 2: two}), 2, "mei"),
    )
    for reason in (None, "", "   "):
        with pytest.raises(InvalidInput) as refused:
            give_verdict(state, two, PEOPLE["priya"], "reject", reason)
        [error] = refused.value.errors
        assert (error.path, error.message) == ("$.reason", "a rejection needs a reason the filer can act on")
    t = give_verdict(state, two, PEOPLE["priya"], "reject", "too risky")
    assert t.event_type == "approval_recorded" and t.status == "rejected"
    assert t.data == {
        "verdict": "reject",
        "reason": "too risky",
        "role": "tech_pm",
        "squad": "atlas",
        "on_behalf_of": None,
        "approvals": ["tomas"],
        "missing": None,
        "status": "rejected",
        "content_hash": "h",
    }
    approval = give_verdict(_pending_tier2(), PM_TIER, PEOPLE["priya"], "approve", None)
    assert approval.data["approvals"] == ["priya"] and approval.data["missing"] is None
    open_one = give_verdict(state, two, PEOPLE["priya"], "approve", "fine")
    assert open_one.status == "approved" and open_one.data["approvals"] == ["tomas", "priya"]
    three = dataclasses.replace(two, approvers=dataclasses.replace(two.approvers, count=3))  # type: ignore[type-var]
    wider = dataclasses.replace(state, route=msgspec.structs.replace(state.route, count=3))
    still = give_verdict(wider, three, PEOPLE["priya"], "approve", None)
    assert still.status == "pending" and still.data["missing"] == "needs 1 more approval(s) by a tech_pm"
