"""The rule book in one table: command x who may x in which states x what it does to approvals.

`docs/rules.md` is generated from `RULES` (`python -m engine.rules_table > docs/rules.md`), and
tests/engine/test_rules_table.py checks both that the file is current and that
`engine.lifecycle.decide` allows exactly what each row says, for every actor and state.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.types import FINAL_STATUSES, OPEN_STATUSES

ALL_STATUSES = ("resolved", "pending", "proceeded_pending_review", "approved", "rejected", "withdrawn", "superseded")

#: The people the table speaks of, relative to one tier-2 decision filed by a squad member.
ACTORS = {
    "filer": "the filer",
    "approver": "an approver in their own right (holds a route role)",
    "delegate": "a delegate holding an approver's role by a delegation in force",
    "filer's delegate": "someone holding the filer's own approver role by delegation",
    "squad": "another member of the filer's squad",
    "auditor": "an auditor",
}


@dataclass(frozen=True, slots=True)
class Rule:
    command: str
    #: Keys of ACTORS who may give this command (checked against decide by the tests).
    actors: frozenset[str]
    #: Statuses of the decision in which it is allowed (checked likewise).
    states: frozenset[str]
    who: str
    effect: str


RULES: tuple[Rule, ...] = (
    Rule(
        "approve",
        frozenset({"approver", "delegate"}),
        OPEN_STATUSES,
        "a holder of one of the route's roles, in their own right or by a delegation in force; never the "
        "filer, not even on someone else's behalf, whatever the policy or the route says (the policy loader "
        "refuses `exclude_filer: false`), and a delegation from the filer never counts; one human counts once "
        "in a quorum whatever delegations they hold (whether the quorum counts distinct people, squads or roles)",
        "adds one vote bound to the hash of the current content and tier; the vote that completes the quorum "
        "approves, and in the same transaction supersedes the decision it replaces and activates a `policy` "
        "decision's candidate (or the approval is refused)",
    ),
    Rule(
        "reject",
        frozenset({"approver", "delegate"}),
        OPEN_STATUSES,
        "as for approve; a reason is required",
        "the decision is rejected; votes no longer matter",
    ),
    Rule(
        "withdraw",
        frozenset({"filer"}),
        frozenset({"pending"}),
        "the filer",
        "the decision is withdrawn",
    ),
    Rule(
        "amend",
        frozenset({"filer"}),
        frozenset({"pending"}),
        "the filer",
        "re-classified under the policy in force; votes are carried to the new content only when nothing "
        "changed but attributes the policy marks `material: false` and the tier and route stay; all other "
        "votes lapse (dismissed); naming another candidate policy logs that candidate's full text, and it "
        "must load; an amendment that would move a `policy` decision to a squad tier is refused (the squad "
        "never activates a policy)",
    ),
    Rule(
        "proceed (break-glass)",
        frozenset({"filer"}),
        frozenset({"pending"}),
        "the filer, holding one of the tier's `break_glass_roles`, on a tier that allows break-glass",
        "status proceeded_pending_review; approvers ratify or reject after the fact",
    ),
    Rule(
        "comment",
        frozenset({"filer", "approver", "delegate", "filer's delegate", "squad"}),
        frozenset(ALL_STATUSES),
        "anyone holding a filing role (auditors only read)",
        "none",
    ),
    Rule(
        "supersede (file with `supersedes`)",
        frozenset({"filer", "approver"}),
        frozenset({"resolved", "approved"}),
        "the old decision's filer; for a squad-resolved (tier-1) decision anyone of its squad; otherwise "
        "someone who may approve the old decision in their own right. Refused at filing otherwise",
        "the new decision's tier is raised to at least the old one's; the old one becomes superseded when the "
        "new one is resolved or approved, in the same transaction",
    ),
)

#: Commands that are not about one decision's state.
OTHER_RULES: tuple[tuple[str, str, str], ...] = (
    (
        "file",
        "anyone holding squad_member, tech_pm, director or admin",
        "classified under the policy in force; tier 1 is resolved at filing, others wait for their quorum; "
        "a `policy` decision must name a proposed candidate that loads, whose full text the filing logs; "
        "one a squad tier would resolve is refused (the policy loader refuses a policy under which that "
        "could happen)",
    ),
    (
        "delegate",
        "a holder of an approver role in their own right, to another person of the directory, for a role "
        "some tier lets be delegated; starts_at < ends_at, both with a time zone",
        "the delegate may approve on the delegator's behalf while the delegation is in force and the "
        "delegator still holds the role",
    ),
    ("revoke a delegation", "the delegator", "the delegation ends at that instant (revoking twice logs nothing)"),
    (
        "activate a policy version",
        "the approval that completes a `policy` decision (same transaction); or an admin (or the service at "
        "start-up) naming a version that an approved `policy` decision names, and whose text loads",
        "the version's full text is logged in `policy_activated`; every later command is decided under it",
    ),
    (
        "import a baseline",
        "an admin",
        "the pre-adoption record is stored apart from the log; `baseline_imported` logs its digest, row count "
        "and span, so every figure compared with it is traceable",
    ),
)


def _states(states: frozenset[str]) -> str:
    if states == frozenset(ALL_STATUSES):
        return "any"
    return ", ".join(s for s in ALL_STATUSES if s in states)


def markdown() -> str:
    lines = [
        "# The rules: who may do what, in which state",
        "",
        "Generated from `engine/rules_table.py` (`python -m engine.rules_table > docs/rules.md`); a test",
        "checks this file is current and that `engine.lifecycle.decide` allows exactly what each row says,",
        "for every actor and every state. Every command goes through `decide`; the replay audit",
        "(`decisions log audit`) calls it again for every logged step.",
        "",
        "## Commands on a decision",
        "",
        "| command | who may | in which states | what it does to approvals |",
        "|---|---|---|---|",
    ]
    for rule in RULES:
        lines.append(f"| {rule.command} | {rule.who} | {_states(rule.states)} | {rule.effect} |")
    lines += ["", "## Other commands", "", "| command | who may | effect |", "|---|---|---|"]
    for command, who, effect in OTHER_RULES:
        lines.append(f"| {command} | {who} | {effect} |")
    lines += [
        "",
        f"Final statuses: {', '.join(s for s in ALL_STATUSES if s in FINAL_STATUSES)}. A decision's approvals",
        "count only while they are bound to its current content (see `engine/content.py`).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(markdown(), end="")
