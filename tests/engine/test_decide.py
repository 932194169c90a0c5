"""`engine.lifecycle.decide`, command by command, with no database: what each command logs, what it
refuses and why, and the consequences it appends in the same step.

A small in-memory book folds the planned events with the read model's own `fold`, so each test
reads like a history: file, approve, amend... Written for the mutation measurement (docs/mutation.md):
every logged field and every refusal sentence below is something a user or an auditor sees.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.content import content_hash
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.lifecycle import (
    Activate,
    Amend,
    Authority,
    Comment,
    Delegate,
    File,
    GiveVerdict,
    Grant,
    Outcome,
    Proceed,
    RevokeDelegation,
    Withdraw,
    decide,
    state_of,
)
from engine.read_model import fold
from policy import load_policy_text
from policy.compiled import Person, Policy
from tests.support import DEFAULT_POLICY

NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
TEXT = DEFAULT_POLICY.read_text(encoding="utf-8")
POLICY = load_policy_text(TEXT, "policies.yaml")
CANDIDATE_TEXT = TEXT.replace("pipeline_risk_max: 30", "pipeline_risk_max: 35")
CANDIDATE = load_policy_text(CANDIDATE_TEXT, "candidate.yaml")
PEOPLE = POLICY.people


def _with_tiers(text: str, old: str, new: str) -> Policy:
    assert text.count(old) == 1, old
    return load_policy_text(text.replace(old, new), "variant.yaml")


TWO_PMS_TEXT = TEXT.replace(
    "approvers: {role: tech_pm, count: 1, exclude_filer: true}",
    "approvers: {role: tech_pm, count: 2, exclude_filer: true}",
)
TWO_PMS = load_policy_text(TWO_PMS_TEXT, "two-pms.yaml")


class Book:
    """Decisions as the read model folds them; `run` decides a command and applies what it plans."""

    def __init__(self, policy: Policy = POLICY, candidates: dict[str, str] | None = None) -> None:
        self.policy = policy
        self.candidates = candidates or {}
        self.rows: dict[str, dict[str, Any]] = {}
        self.grants: list[Grant] = []
        self.seq = 0
        self.now = NOW

    def authority(self) -> Authority:
        return Authority(self.policy, self.now, tuple(self.grants), self.candidates)

    def run(
        self,
        command: Any,
        who: str | Person,
        decision: str | None = None,
        *,
        related: str | None = None,
        grant: Grant | None = None,
        new_id: str | None = None,
    ) -> Outcome:
        actor = who if isinstance(who, Person) else self.policy.people[who]
        state = state_of(self.rows[decision]) if decision is not None else None
        rel = state_of(self.rows[related]) if related is not None else None
        outcome = decide(command, actor, self.authority(), state, rel, grant, new_id)
        for event in outcome.events:
            body = {
                "seq": self.seq,
                "type": event.type,
                "actor": event.actor,
                "at": "2026-03-02T17:00:00.000000Z",
                "decision_id": event.decision_id,
                "data": event.data,
            }
            self.seq += 1
            if event.decision_id is not None:
                folded = fold(self.rows.get(event.decision_id), body)
                assert folded is not None
                self.rows[event.decision_id] = folded
        return outcome

    def file(self, who: str, category: str, attributes: dict[str, Any], new_id: str, **kw: Any) -> Outcome:
        related = kw.get("supersedes")
        return self.run(File(f"{category} by {who}", category, attributes, **kw), who, related=related, new_id=new_id)

    def approve(self, who: str, decision: str, **kw: Any) -> Outcome:
        return self.run(GiveVerdict("approve"), who, decision, **kw)

    def status(self, decision: str) -> str:
        return str(self.rows[decision]["status"])


# -- filing --------------------------------------------------------------------------------------------


def test_a_filing_logs_its_content_classification_and_route() -> None:
    book = Book()
    command = File(
        "Loosen the bound",
        "quality_threshold",
        {"deviation_pct": 3.5},
        rationale="new rubric",
        client="acme",
        links=("https://example.com/x",),
    )
    outcome = book.run(command, "mei", new_id="D1")
    [event] = outcome.events
    assert (event.type, event.decision_id, event.actor) == ("decision_filed", "D1", "mei")
    assert outcome.status == "pending"
    assert event.data == {
        "title": "Loosen the bound",
        "category": "quality_threshold",
        "attributes": {"deviation_pct": 3.5, "affected_clients": 1},
        "rationale": "new rubric",
        "client": "acme",
        "links": ["https://example.com/x"],
        "squad": "nucleus",
        "tier": 2,
        "base_tier": 1,
        "known_category": True,
        "matched_rules": [
            {
                "id": "beyond-bound",
                "tier": 2,
                "description": "deviation beyond the quality bound",
                "reads": ["deviation_pct"],
            }
        ],
        "route": {
            "tier": 2,
            "role": "tech_pm",
            "count": 1,
            "exclude_filer": True,
            "approvers": ["priya", "tomas"],
            "roles": ["tech_pm"],
            "distinct": "person",
        },
        "status": "pending",
        "policy_version": POLICY.version,
        "supersedes": None,
    }
    resolved = book.file("mei", "pipeline", {"risk_score": 3}, "D2")
    assert resolved.status == "resolved"
    assert resolved.events[0].data["route"] == {
        "tier": 1,
        "role": None,
        "count": 0,
        "exclude_filer": False,
        "approvers": [],
        "roles": [],
        "distinct": "person",
    }
    assert Outcome(()).status is None


def test_a_filing_needs_a_filing_role_and_valid_attributes() -> None:
    book = Book()
    with pytest.raises(Forbidden, match="ann holds only auditor, which is read-only"):
        book.file("ann", "pipeline", {"risk_score": 3}, "D1")
    with pytest.raises(Forbidden, match="nobody holds only no role, which is read-only"):
        book.run(File("x", "pipeline", {"risk_score": 3}), Person("nobody", frozenset()), new_id="D1")
    with pytest.raises(InvalidInput) as bad:
        book.file("mei", "pipeline", {"risk_score": "high"}, "D1")
    assert [e.path for e in bad.value.errors] == ["$.attributes.risk_score"]
    with pytest.raises(ValueError, match="needs the id"):
        decide(File("x", "pipeline", {"risk_score": 3}), PEOPLE["mei"], book.authority())


@pytest.mark.parametrize(
    ("attributes", "path", "message"),
    [
        ({"x": float("nan")}, "$.attributes.x", "must be a finite number"),
        ({"x": float("inf")}, "$.attributes.x", "must be a finite number"),
        ({"x": 2**63}, "$.attributes.x", "integers must fit in 64 bits"),
        ({"x": -(2**63) - 1}, "$.attributes.x", "integers must fit in 64 bits"),
        ({"x": [1, {"y": float("nan")}]}, "$.attributes.x[1].y", "must be a finite number"),
        ({"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}, "$.attributes.a.b.c.d.e.f.g.h.i", "nested"),
    ],
)
def test_an_unknown_category_takes_only_what_the_log_can_hold(
    attributes: dict[str, Any], path: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as bad:
        Book().file("mei", "no_such_category", attributes, "D1")
    assert bad.value.errors[0].path == path and message in bad.value.errors[0].message


def test_an_unknown_category_is_filed_at_the_fail_closed_tier_with_what_fits() -> None:
    fits = {"x": [1, 2**63 - 1, -(2**63), 1.5, True, {"y": "z"}], "a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}
    outcome = Book().file("mei", "no_such_category", fits, "D1")
    assert outcome.events[0].data["tier"] == 3 and outcome.events[0].data["known_category"] is False


def test_a_policy_decision_must_name_a_stored_candidate() -> None:
    with pytest.raises(InvalidInput) as bad:
        Book().file("adm", "policy", {"candidate_version": CANDIDATE.version}, "D1")
    assert bad.value.errors[0].path == "$.attributes.candidate_version"
    assert "propose it first" in bad.value.errors[0].message
    book = Book(candidates={CANDIDATE.version: CANDIDATE_TEXT})
    assert book.file("adm", "policy", {"candidate_version": CANDIDATE.version}, "D1").status == "pending"


# -- superseding ---------------------------------------------------------------------------------------------


def _approved_contract(book: Book, filer: str = "ravi", new_id: str = "C1") -> str:
    book.file(filer, "contract", {"change": "scope"}, new_id)
    book.approve("dana", new_id)
    assert book.status(new_id) == "approved"
    return new_id


def test_superseding_needs_the_old_decision_to_exist_and_be_in_force() -> None:
    book = Book()
    with pytest.raises(InvalidInput) as missing:
        book.run(File("x", "pipeline", {"risk_score": 3}, supersedes="D404"), "mei", new_id="D1")
    assert missing.value.errors[0].path == "$.supersedes" and "no decision D404" in missing.value.errors[0].message
    book.file("lena", "pipeline", {"risk_score": 60}, "P1")
    with pytest.raises(InvalidInput, match="no decision P1"):
        book.run(File("x", "pipeline", {"risk_score": 3}, supersedes="P1"), "lena", new_id="D1", related=None)
    with pytest.raises(InvalidInput) as pending:
        book.file("lena", "pipeline", {"risk_score": 3}, "D1", supersedes="P1")
    assert "P1 is pending; only a resolved or approved decision can be superseded" in str(pending.value)
    with pytest.raises(InvalidInput, match="no decision P1"):  # the related decision must be the one named
        book.file("mei", "pipeline", {"risk_score": 3}, "D2")
        book.run(File("x", "pipeline", {"risk_score": 3}, supersedes="P1"), "mei", new_id="D3", related="D2")


def test_only_the_filer_or_an_approver_in_their_own_right_supersedes_an_approved_decision() -> None:
    book = Book()
    old = _approved_contract(book)
    with pytest.raises(Forbidden, match=r"only ravi \(its filer\) or someone who may approve it may supersede"):
        book.file("mei", "reporting_format", {}, "D1", supersedes=old)
    with pytest.raises(Forbidden):
        book.file("tomas", "reporting_format", {}, "D1", supersedes=old)  # a tech PM: not this route's role
    # The filer may, but a tier-1 filing takes the old decision's tier 3 and waits for the director.
    outcome = book.file("ravi", "reporting_format", {}, "D1", supersedes=old)
    [event] = outcome.events
    assert event.data["tier"] == 3 and event.data["status"] == "pending"
    assert event.data["route"]["role"] == "director"
    assert event.data["matched_rules"][-1] == {
        "id": "supersedes",
        "tier": 3,
        "description": f"replaces tier-3 decision {old}",
        "reads": [],
    }
    assert book.status(old) == "approved"
    # The director may supersede it too, in her own right; approval by her then supersedes it.
    filed = book.file("dana", "contract", {"change": "term"}, "D2", supersedes=old)
    assert filed.events[0].data["tier"] == 3
    done = book.approve("dana", "D1", related=old)
    assert [e.type for e in done.events] == ["approval_recorded", "decision_superseded"]
    superseded = done.events[1]
    assert (superseded.decision_id, superseded.actor) == (old, "system")
    assert superseded.data == {"superseded_by": "D1", "status": "superseded"}
    assert book.status(old) == "superseded"


def test_a_squad_resolved_decision_is_superseded_by_its_squad_at_filing() -> None:
    book = Book()
    book.file("mei", "pipeline", {"risk_score": 3}, "R1")
    outcome = book.file("jon", "pipeline", {"risk_score": 5}, "R2", supersedes="R1")  # same squad
    assert [e.type for e in outcome.events] == ["decision_filed", "decision_superseded"]
    assert book.status("R1") == "superseded" and book.status("R2") == "resolved"
    with pytest.raises(Forbidden, match="was resolved by squad nucleus; only its filer or that squad may supersede"):
        book.file("ravi", "pipeline", {"risk_score": 5}, "R3", supersedes="R2")  # squad atlas
    book.file("dana", "pipeline", {"risk_score": 5}, "R4")  # a director belongs to no squad
    with pytest.raises(Forbidden, match=r"resolved by squad \(none\)"):
        book.file("adm", "pipeline", {"risk_score": 5}, "R5", supersedes="R4")


def test_a_decision_whose_target_left_force_cannot_be_approved() -> None:
    book = Book()
    old = _approved_contract(book)
    book.file("ravi", "contract", {"change": "term"}, "D1", supersedes=old)
    book.file("ravi", "contract", {"change": "pricing"}, "D2", supersedes=old)
    book.approve("dana", "D2", related=old)
    assert book.status(old) == "superseded"
    with pytest.raises(Conflict, match=f"replaces {old}, which is now superseded; it cannot be approved as filed"):
        book.approve("dana", "D1", related=old)
    with pytest.raises(Conflict, match=f"replaces {old}, which is now gone"):
        book.approve("dana", "D1")


# -- verdicts ------------------------------------------------------------------------------------------------


def test_a_verdict_records_its_channel_and_the_content_it_approved() -> None:
    book = Book(TWO_PMS)
    book.file("mei", "pipeline", {"risk_score": 60}, "D1")
    outcome = book.run(GiveVerdict("approve", "fine", "slack"), "tomas", "D1")
    data = outcome.events[0].data
    assert data["channel"] == "slack" and data["reason"] == "fine"
    assert data["content_hash"] == content_hash(book.rows["D1"])
    assert data["status"] == "pending" and data["missing"] == "needs 1 more approval(s) by a tech_pm"
    plain = book.run(GiveVerdict("approve"), "priya", "D1").events[0].data
    assert "channel" not in plain and plain["missing"] is None and plain["approvals"] == ["tomas", "priya"]
    with pytest.raises(NotFound):
        decide(GiveVerdict("approve"), PEOPLE["tomas"], book.authority())


def test_the_approval_completing_a_policy_decision_activates_its_candidate() -> None:
    book = Book(candidates={CANDIDATE.version: CANDIDATE_TEXT})
    book.file("adm", "policy", {"candidate_version": CANDIDATE.version}, "D1")
    outcome = book.approve("dana", "D1")
    assert [e.type for e in outcome.events] == ["approval_recorded", "policy_activated"]
    activation = outcome.events[1]
    assert (activation.actor, activation.decision_id) == ("system", None)
    assert activation.data == {
        "version": CANDIDATE.version,
        "previous": POLICY.version,
        "source": "decision D1",
        "decision_id": "D1",
        "text": CANDIDATE_TEXT,
    }


def test_a_policy_decision_whose_candidate_is_gone_or_already_active() -> None:
    book = Book(candidates={CANDIDATE.version: CANDIDATE_TEXT, POLICY.version: TEXT})
    book.file("adm", "policy", {"candidate_version": CANDIDATE.version}, "D1")
    book.file("adm", "policy", {"candidate_version": POLICY.version}, "D2")
    book.candidates = {POLICY.version: TEXT}
    with pytest.raises(
        Conflict, match=r"names candidate policy '[0-9a-f]+', which is not stored; it cannot be approved"
    ):
        book.approve("dana", "D1")
    assert book.status("D1") == "pending"
    same = book.approve("dana", "D2")  # the candidate is the policy in force: nothing to activate
    assert [e.type for e in same.events] == ["approval_recorded"] and same.status == "approved"


# -- a `policy` decision is never the squad's to resolve ---------------------------------------------------------

#: A candidate whose `policy` category the squad resolves: it does not load (policy.compiler), but a version
#: stored before that rule was added is still named by its hash, so the rules ask again.
_HEAD, _POLICY_SECTION = CANDIDATE_TEXT.split("\n  policy:\n")
SQUAD_TEXT = _HEAD + "\n  policy:\n" + _POLICY_SECTION.replace("base_tier: 3", "base_tier: 1", 1)
SQUAD_VERSION = hashlib.sha256(SQUAD_TEXT.encode()).hexdigest()


def test_a_candidate_that_does_not_load_is_refused_at_filing_amendment_approval_and_activation() -> None:
    book = Book(candidates={SQUAD_VERSION: SQUAD_TEXT})
    with pytest.raises(InvalidInput) as caught:
        book.file("adm", "policy", {"candidate_version": SQUAD_VERSION}, "D1")
    [error] = caught.value.errors
    assert error.path == "$.attributes.candidate_version"
    assert error.message.startswith(f"candidate policy {SQUAD_VERSION[:12]} does not load, so it could never be")
    assert f"candidate:{SQUAD_VERSION[:12]}:" in error.message and "resolved by the squad" in error.message
    assert book.rows == {}
    book.candidates = {CANDIDATE.version: CANDIDATE_TEXT}
    book.file("adm", "policy", {"candidate_version": CANDIDATE.version}, "D1")
    book.candidates = {SQUAD_VERSION: SQUAD_TEXT}
    with pytest.raises(InvalidInput, match="does not load, so it could never be activated"):
        book.run(Amend(attributes={"candidate_version": SQUAD_VERSION}), "adm", "D1")
    assert book.rows["D1"]["attributes"]["candidate_version"] == CANDIDATE.version
    # A decision that names it from before the rule (as an earlier version of the service let it be filed):
    # the approval that would complete it is refused, so it is never approved with nothing, or that, activated.
    book.rows["D1"] = {**book.rows["D1"], "attributes": {"candidate_version": SQUAD_VERSION}}
    with pytest.raises(Conflict, match=r"which does not load, so it cannot be approved: withdraw it \(candidate:"):
        book.approve("dana", "D1")
    assert book.status("D1") == "pending"
    # Nor does an admin activate it by the file path (start-up, reload), whatever decision approved it.
    book.rows["D1"] = {**book.rows["D1"], "status": "approved"}
    with pytest.raises(InvalidInput, match=f"policy {SQUAD_VERSION[:12]} does not load"):
        book.run(Activate(SQUAD_VERSION, SQUAD_TEXT), "adm", related="D1")


def _squad_resolves(policy: Policy, number: int) -> Policy:
    """`policy` with tier `number` resolved by the squad: built past the loader, which refuses it for `policy`."""
    squad = dataclasses.replace(policy.tiers[number], self_approved=True, approvers=None)
    return dataclasses.replace(policy, tiers={**policy.tiers, number: squad})


def test_a_policy_decision_a_squad_tier_would_resolve_is_refused_at_filing_and_amendment() -> None:
    refusal = r"a `policy` decision activates the policy it names, so it needs sign-off; tier 3 \(Director\)"
    book = Book(candidates={CANDIDATE.version: CANDIDATE_TEXT})
    book.file("adm", "policy", {"candidate_version": CANDIDATE.version}, "D1")
    assert book.status("D1") == "pending"
    book.policy = _squad_resolves(POLICY, 3)
    with pytest.raises(Forbidden, match=refusal):
        book.file("mei", "policy", {"candidate_version": CANDIDATE.version}, "D2")
    assert "D2" not in book.rows
    # The amendment's re-classification under the policy in force lands in tier 3, which the squad resolves.
    with pytest.raises(Forbidden, match=refusal):
        book.run(Amend(attributes={"candidate_version": CANDIDATE.version, "summary": "x"}), "adm", "D1")
    assert book.status("D1") == "pending"
    # Any other category is still resolved by the squad at that tier.
    assert book.file("mei", "contract", {"change": "term"}, "C1").status == "resolved"


def test_a_policy_decision_superseding_a_decision_of_a_squad_tier_above_its_base_is_refused() -> None:
    # `policy` at tier 2 (tech PM) and tier 3 resolved by the squad: the route the loader refuses at tier 3's
    # `approval: self`, since a replacement takes at least the tier of what it replaces.
    head, section = TEXT.split("\n  policy:\n")
    at_two = load_policy_text(head + "\n  policy:\n" + section.replace("base_tier: 3", "base_tier: 2", 1))
    book = Book(_squad_resolves(at_two, 3), candidates={CANDIDATE.version: CANDIDATE_TEXT})
    assert book.file("mei", "contract", {"change": "term"}, "C1").status == "resolved"
    alone = book.file("jon", "policy", {"candidate_version": CANDIDATE.version}, "D1")
    assert alone.status == "pending" and alone.events[0].data["tier"] == 2
    with pytest.raises(Forbidden, match=r"needs sign-off; tier 3 \(Director\) is resolved by the squad"):
        book.file("mei", "policy", {"candidate_version": CANDIDATE.version}, "D2", supersedes="C1")
    assert book.status("C1") == "resolved" and "D2" not in book.rows


# -- amendments ----------------------------------------------------------------------------------------------


def test_an_amendment_logs_the_new_content_and_what_became_of_the_approvals() -> None:
    book = Book(TWO_PMS)
    book.file("mei", "pipeline", {"risk_score": 60}, "D1")
    book.approve("tomas", "D1")
    with pytest.raises(Forbidden, match=r"only the filer \(mei\) may amend this decision"):
        book.run(Amend(title="x"), "jon", "D1")
    outcome = book.run(Amend(title="Sharper", rationale="because", reason="clearer"), "mei", "D1")
    [event] = outcome.events
    assert event.type == "decision_amended" and event.actor == "mei"
    row = book.rows["D1"]
    assert event.data == {
        "title": "Sharper",
        "attributes": {"risk_score": 60},
        "rationale": "because",
        "tier": 2,
        "base_tier": 1,
        "known_category": True,
        "matched_rules": [
            {
                "id": "above-risk-threshold",
                "tier": 2,
                "description": "pipeline change above the risk threshold",
                "reads": ["risk_score"],
            }
        ],
        "route": event.data["route"],
        "policy_version": TWO_PMS.version,
        "dismissed": ["tomas"],
        "carried": [],
        "content_hash": content_hash(row),
        "reason": "clearer",
        "status": "pending",
    }
    assert event.data["route"]["count"] == 2
    # The dismissed approver may approve the new content; with a second tech PM it is approved.
    assert book.approve("priya", "D1").status == "pending"
    assert book.approve("tomas", "D1").status == "approved"


def test_an_amendment_is_refused_on_who_and_when_before_its_new_content_is_read() -> None:
    """A closed decision cannot be amended whatever the new attributes say (409, not 422 about them);
    the replay audit relies on it: it keeps no content for a closed decision (engine.log.audit)."""
    book = Book()
    book.file("mei", "pipeline", {"risk_score": 60}, "D1")
    book.approve("tomas", "D1")
    assert book.status("D1") == "approved"
    invalid = Amend(attributes={"risk_score": "high"})
    with pytest.raises(Conflict, match=r"^decision D1 is approved: it cannot be amended; file a new decision"):
        book.run(invalid, "mei", "D1")
    with pytest.raises(Forbidden, match=r"^only the filer \(mei\) may amend this decision$"):
        book.run(invalid, "jon", "D1")
    book.file("mei", "pipeline", {"risk_score": 60}, "D2")
    book.run(Proceed(reason="tonight's run"), "mei", "D2")
    with pytest.raises(Conflict, match=r"^decision D2 already proceeded under break-glass; it can only be ratified"):
        book.run(invalid, "mei", "D2")
    book.file("mei", "pipeline", {"risk_score": 60}, "D3")
    with pytest.raises(InvalidInput):  # pending: now the content is read, and refused
        book.run(invalid, "mei", "D3")


def test_an_amendment_to_a_squad_tier_resolves_and_supersedes_what_it_replaces() -> None:
    book = Book()
    book.file("mei", "pipeline", {"risk_score": 3}, "R1")
    book.file("mei", "pipeline", {"risk_score": 3}, "R0")
    book.file("mei", "pipeline", {"risk_score": 60}, "D1", supersedes="R1")
    assert book.status("D1") == "pending"
    outcome = book.run(Amend(attributes={"risk_score": 10}), "mei", "D1", related="R1")
    assert [e.type for e in outcome.events] == ["decision_amended", "decision_superseded"]
    assert book.status("D1") == "resolved" and book.status("R1") == "superseded"
    book.file("mei", "pipeline", {"risk_score": 60}, "D2", supersedes="R0")
    book.file("jon", "pipeline", {"risk_score": 4}, "D3", supersedes="R0")
    with pytest.raises(Conflict, match="R0, which this one replaces, can no longer be superseded"):
        book.run(Amend(attributes={"risk_score": 10}), "mei", "D2", related="R0")


def test_an_amendment_keeps_the_tier_of_the_decision_it_replaces() -> None:
    book = Book()
    old = _approved_contract(book)
    book.file("ravi", "pipeline", {"risk_score": 60}, "D1", supersedes=old)
    outcome = book.run(Amend(attributes={"risk_score": 5}), "ravi", "D1", related=old)
    data = outcome.events[0].data
    assert data["tier"] == 3 and data["status"] == "pending"
    assert data["matched_rules"] == [
        {"id": "supersedes", "tier": 3, "description": f"replaces tier-3 decision {old}", "reads": []}
    ]
    assert data["route"]["role"] == "director"


def test_an_amendment_of_a_policy_decision_checks_the_candidate() -> None:
    book = Book(candidates={CANDIDATE.version: CANDIDATE_TEXT})
    book.file("adm", "policy", {"candidate_version": CANDIDATE.version}, "D1")
    with pytest.raises(InvalidInput) as bad:
        book.run(Amend(attributes={"candidate_version": "deadbeef"}), "adm", "D1")
    assert bad.value.errors[0].path == "$.attributes.candidate_version"
    with pytest.raises(InvalidInput) as invalid:
        book.run(Amend(attributes={"summary": "no candidate"}), "adm", "D1")
    assert invalid.value.errors[0].path == "$.attributes.candidate_version"


def test_fields_the_policy_declares_immaterial_carry_approvals() -> None:
    field = "      to_tier:\n        type: string\n"
    assert TWO_PMS_TEXT.count(field) == 1
    policy = load_policy_text(TWO_PMS_TEXT.replace(field, field + "        material: false\n"), "immaterial.yaml")
    book = Book(policy)
    book.file("mei", "annotator_tier", {"annotator": "a-1", "to_tier": "specialist"}, "D1")
    book.approve("tomas", "D1")
    outcome = book.run(Amend(attributes={"annotator": "a-1", "to_tier": "expert"}), "mei", "D1")
    assert outcome.events[0].data["carried"] == ["tomas"] and outcome.events[0].data["dismissed"] == []
    assert book.approve("priya", "D1").status == "approved"
    book.file("mei", "annotator_tier", {"annotator": "a-2", "to_tier": "specialist"}, "D2")
    book.approve("tomas", "D2")
    material = book.run(Amend(attributes={"annotator": "a-3", "to_tier": "specialist"}), "mei", "D2")
    assert material.events[0].data["carried"] == [] and material.events[0].data["dismissed"] == ["tomas"]


# -- the filer's other steps, comments ---------------------------------------------------------------------------


def test_withdraw_proceed_and_comment_through_decide() -> None:
    book = Book()
    book.file("mei", "pipeline", {"risk_score": 60}, "D1")
    with pytest.raises(Forbidden, match="ann holds only auditor, which is read-only"):
        book.run(Comment("hello"), "ann", "D1")
    with pytest.raises(InvalidInput) as empty:
        book.run(Comment("  "), "jon", "D1")
    assert empty.value.errors[0].path == "$.text"
    comment = book.run(Comment("looks fine"), "jon", "D1")
    assert comment.events[0].data == {"text": "looks fine"} and comment.events[0].actor == "jon"
    assert book.status("D1") == "pending"
    proceeded = book.run(Proceed("the client is waiting"), "mei", "D1")
    assert proceeded.events[0].data["approvers"] == ["priya", "tomas"]
    assert book.status("D1") == "proceeded_pending_review"
    book.file("mei", "pipeline", {"risk_score": 60}, "D2")
    withdrawn = book.run(Withdraw("not needed"), "mei", "D2")
    assert withdrawn.events[0].data == {"reason": "not needed", "status": "withdrawn"}


def test_a_decision_of_a_tier_the_policy_no_longer_has_is_refused() -> None:
    book = Book()
    book.file("mei", "pipeline", {"risk_score": 60}, "D1")
    book.rows["D1"] = {**book.rows["D1"], "tier": 7}
    with pytest.raises(Conflict, match="the policy in force has no tier 7"):
        book.run(Proceed("now"), "mei", "D1")


# -- delegations ----------------------------------------------------------------------------------------------


def _delegate(who: str, to: str, role: str, starts: datetime = NOW, hours: float = 24) -> Delegate:
    return Delegate("G1", to, role, starts, starts + timedelta(hours=hours))


def test_a_delegation_logs_who_may_act_as_what_and_when() -> None:
    outcome = Book().run(_delegate("tomas", "jon", "tech_pm"), "tomas")
    [event] = outcome.events
    assert (event.type, event.actor, event.decision_id) == ("delegation_granted", "tomas", None)
    assert event.data == {
        "delegation_id": "G1",
        "delegate": "jon",
        "role": "tech_pm",
        "starts_at": "2026-03-02T17:00:00.000000Z",
        "ends_at": "2026-03-03T17:00:00.000000Z",
    }


def test_a_delegation_is_refused_with_the_reason() -> None:
    book = Book()
    with pytest.raises(Forbidden, match="jon does not hold tech_pm in their own right; a delegate cannot pass it on"):
        book.run(_delegate("jon", "mei", "tech_pm"), "jon")
    for to in ("tomas", "nobody"):
        with pytest.raises(InvalidInput) as bad:
            book.run(_delegate("tomas", to, "tech_pm"), "tomas")
        assert bad.value.errors[0].path == "$.delegate"
    naive = NOW.replace(tzinfo=None)
    with pytest.raises(InvalidInput) as start:
        book.run(Delegate("G1", "jon", "tech_pm", naive, NOW + timedelta(hours=1)), "tomas")
    assert start.value.errors[0].path == "$.starts_at" and "time zone" in start.value.errors[0].message
    with pytest.raises(InvalidInput) as end:
        book.run(Delegate("G1", "jon", "tech_pm", NOW, naive + timedelta(hours=1)), "tomas")
    assert end.value.errors[0].path == "$.ends_at"
    for hours in (0, -1):
        with pytest.raises(InvalidInput) as order:
            book.run(_delegate("tomas", "jon", "tech_pm", hours=hours), "tomas")
        assert order.value.errors[0].path == "$.ends_at" and "after starts_at" in order.value.errors[0].message
    with pytest.raises(Forbidden, match="the policy allows no delegation of the squad_member sign-off"):
        book.run(_delegate("mei", "jon", "squad_member"), "mei")
    no_delegation = _with_tiers(
        TEXT,
        "approvers: {role: tech_pm, count: 1, exclude_filer: true}, review",
        "approvers: {role: tech_pm, count: 1, exclude_filer: true}, delegation: false, review",
    )
    with pytest.raises(Forbidden, match="allows no delegation of the tech_pm sign-off"):
        Book(no_delegation).run(_delegate("tomas", "jon", "tech_pm"), "tomas")


def test_a_delegation_in_force_lets_the_delegate_sign_for_the_delegator() -> None:
    book = Book()
    book.file("mei", "pipeline", {"risk_score": 60}, "D1")
    book.grants = [Grant("G1", "tomas", "jon", "tech_pm", NOW - timedelta(hours=1), NOW + timedelta(hours=1))]
    outcome = book.approve("jon", "D1")
    assert outcome.events[0].data["on_behalf_of"] == "tomas" and outcome.events[0].actor == "jon"
    assert book.status("D1") == "approved"
    book.file("mei", "pipeline", {"risk_score": 60}, "D2")
    book.now = NOW + timedelta(hours=1)  # the delegation has ended
    with pytest.raises(Forbidden):
        book.approve("jon", "D2")


def test_only_the_delegator_revokes_and_only_once() -> None:
    book = Book()
    grant = Grant("G1", "tomas", "jon", "tech_pm", NOW, NOW + timedelta(hours=1))
    with pytest.raises(NotFound, match="no delegation G1"):
        book.run(RevokeDelegation("G1"), "tomas")
    with pytest.raises(NotFound, match="no delegation G2"):
        book.run(RevokeDelegation("G2"), "tomas", grant=grant)
    with pytest.raises(Forbidden, match="only the person who delegated may revoke the delegation"):
        book.run(RevokeDelegation("G1"), "jon", grant=grant)
    outcome = book.run(RevokeDelegation("G1"), "tomas", grant=grant)
    assert [(e.type, e.actor, e.data) for e in outcome.events] == [
        ("delegation_revoked", "tomas", {"delegation_id": "G1"})
    ]
    again = book.run(RevokeDelegation("G1"), "tomas", grant=dataclasses.replace(grant, revoked=True))
    assert again.events == ()


# -- activation outside an approval (the file path) ------------------------------------------------------------------


def test_only_an_admin_activates_a_version_an_approved_decision_names() -> None:
    book = Book(candidates={CANDIDATE.version: CANDIDATE_TEXT, POLICY.version: TEXT})
    book.file("adm", "policy", {"candidate_version": CANDIDATE.version}, "D1")
    activate = Activate(CANDIDATE.version, CANDIDATE_TEXT)
    with pytest.raises(Forbidden, match="dana may not activate a policy version"):
        book.run(activate, "dana", related="D1")
    with pytest.raises(Forbidden, match="no approved `policy` decision names version"):
        book.run(activate, "adm", related="D1")  # still pending
    with pytest.raises(Forbidden, match="no approved `policy` decision names version"):
        book.run(activate, "adm")
    book.file("mei", "pipeline", {"risk_score": 60}, "P1")
    book.approve("tomas", "P1")
    with pytest.raises(Forbidden):
        book.run(activate, "adm", related="P1")  # approved, but not a policy decision
    book.candidates = {}  # approve without activating, to test the file path alone
    book.rows["D1"] = {**book.rows["D1"], "status": "approved"}
    with pytest.raises(Forbidden):
        book.run(Activate(POLICY.version, TEXT), "adm", related="D1")  # names another version
    outcome = book.run(activate, "adm", related="D1")
    assert [(e.type, e.actor) for e in outcome.events] == [("policy_activated", "adm")]
    assert outcome.events[0].data == {
        "version": CANDIDATE.version,
        "previous": POLICY.version,
        "source": "decision D1",
        "decision_id": "D1",
        "text": CANDIDATE_TEXT,
    }
    book.rows["D3"] = {**book.rows["D1"], "id": "D3", "attributes": {"candidate_version": POLICY.version}}
    assert book.run(Activate(POLICY.version, TEXT), "adm", related="D3").events == ()  # already in force
    system = Person("system", frozenset({"system"}))
    assert book.run(activate, system, related="D1").events[0].actor == "system"


def test_a_policy_filing_the_policy_did_not_know_then_never_activates_anything() -> None:
    # Filed while the policy had no `policy` category: an unknown kind, its attributes never checked as a
    # candidate's. Approved once a later policy knows the category, it is approved and nothing more.
    start = TEXT.index("  policy:\n")
    without = load_policy_text(TEXT[:start] + TEXT[TEXT.index("unknown_category_tier:") :], "no-policy.yaml")
    assert "policy" not in without.categories
    book = Book(without, candidates={CANDIDATE.version: CANDIDATE_TEXT})
    book.file("adm", "policy", {"candidate_version": CANDIDATE.version}, "D1")
    assert book.rows["D1"]["known_category"] is False
    book.policy = POLICY
    outcome = book.approve("dana", "D1")
    assert [e.type for e in outcome.events] == ["approval_recorded"] and outcome.status == "approved"


@pytest.mark.parametrize("version", [None, 7, ["a"], {"v": 1}])
def test_a_candidate_version_that_is_not_text_is_never_looked_up(version: object) -> None:
    # The category's schema asks for a string; a state that holds anything else is refused in words, never
    # as a crash of the lookup (a list or a map cannot even be a key).
    book = Book(candidates={CANDIDATE.version: CANDIDATE_TEXT})
    book.file("adm", "policy", {"candidate_version": CANDIDATE.version}, "D1")
    book.rows["D1"]["attributes"] = {**book.rows["D1"]["attributes"], "candidate_version": version}
    with pytest.raises(Conflict, match=r"^decision D1 names candidate policy .*, which is not stored; it cannot be"):
        book.approve("dana", "D1")


def test_break_glass_on_a_policy_decision_activates_nothing_until_the_approval() -> None:
    # Breaking the glass lets work proceed before sign-off; it must never put a policy in force. Only the
    # approval that completes the quorum does, once.
    tier3 = "3: {name: Director, approvers: {role: director, count: 1, exclude_filer: true}, review: director_review"
    assert TEXT.count(tier3) == 1
    lenient = load_policy_text(
        TEXT.replace(tier3, tier3 + ", break_glass: true, break_glass_roles: [admin]"), "bg.yaml"
    )
    book = Book(lenient, candidates={CANDIDATE.version: CANDIDATE_TEXT})
    book.file("adm", "policy", {"candidate_version": CANDIDATE.version}, "D1")
    proceeded = book.run(Proceed("the old bound blocks tonight's run"), "adm", "D1")
    assert [e.type for e in proceeded.events] == ["decision_proceeded"]
    assert book.status("D1") == "proceeded_pending_review"
    ratified = book.approve("dana", "D1")
    assert [e.type for e in ratified.events] == ["approval_recorded", "policy_activated"]
