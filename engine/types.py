"""Boundary types: what the engine accepts and returns (msgspec Structs).

The API serialises these directly; the store's SQLModel rows are converted to
them in exactly one place (`engine.store.mapping`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from engine import hygiene

Status = Literal["resolved", "pending", "proceeded_pending_review", "approved", "rejected", "withdrawn", "superseded"]
FINAL_STATUSES: frozenset[str] = frozenset({"resolved", "approved", "rejected", "withdrawn", "superseded"})
#: Statuses in which approvers still act (before the fact, or after a break-glass).
OPEN_STATUSES: frozenset[str] = frozenset({"pending", "proceeded_pending_review"})
Verdict = Literal["approve", "reject"]

Title = Annotated[str, Meta(min_length=1, max_length=200)]
ShortText = Annotated[str, Meta(min_length=1, max_length=100)]
LongText = Annotated[str, Meta(max_length=10_000)]
#: No whitespace or control character, spelt out: `\s` means different sets to Python (which validates)
#: and to ECMAScript (which OpenAPI clients use), so the document would promise what the service refuses.
_URL_CHAR = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
Url = Annotated[str, Meta(max_length=2_000, pattern=rf"^https?://{_URL_CHAR}+$")]


class FilingRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    """Body of POST /v1/decisions and POST /v1/classify."""

    title: Title
    category: ShortText
    attributes: dict[str, Any] = msgspec.field(default_factory=dict)
    rationale: LongText | None = None
    client: ShortText | None = None
    links: Annotated[list[Url], Meta(max_length=20)] = msgspec.field(default_factory=list)
    #: The id of an earlier decision this one replaces once it is resolved or approved.
    supersedes: ShortText | None = None

    def __post_init__(self) -> None:
        hygiene.check(
            self,
            one_line=("title", "category", "client", "supersedes"),
            not_blank=("title", "category"),
            undisguised=("title", "category"),
        )


class AmendRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    """Body of POST /v1/decisions/{id}/amend: what changes (omitted = unchanged) and why."""

    title: Title | None = None
    attributes: dict[str, Any] | None = None
    rationale: LongText | None = None
    reason: LongText | None = None

    def __post_init__(self) -> None:
        hygiene.check(self, one_line=("title",), not_blank=("title",), undisguised=("title",))


class AmendPreview(Struct, kw_only=True):
    """What an amendment would do, nothing written (the amend form's live preview)."""

    was_tier: int
    tier: int
    #: The status after it: pending again, or approved/resolved if the approvals kept now suffice.
    status: str
    #: Why the new tier is above the category's base tier: the descriptions of the rules that raise it.
    reasons: list[str]
    #: Whose approvals the amendment dismisses (they approved the content as it was) and whose it keeps.
    dismissed: list[str]
    carried: list[str]


class CommentRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    text: Annotated[str, Meta(min_length=1, max_length=10_000)]

    def __post_init__(self) -> None:
        hygiene.check(self, not_blank=("text",))


class ProceedRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    """Break-glass: proceed now, review after the fact. The reason is required."""

    reason: Annotated[str, Meta(min_length=1, max_length=10_000)]

    def __post_init__(self) -> None:
        hygiene.check(self, not_blank=("reason",))


class DelegationRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    delegate: ShortText
    role: ShortText
    starts_at: datetime
    ends_at: datetime

    def __post_init__(self) -> None:
        hygiene.check(self, one_line=("delegate", "role"))
        # Naive or unrepresentable instants are the client's mistake, named as such (not a TypeError later).
        self.starts_at = hygiene.instant("starts_at", self.starts_at)
        self.ends_at = hygiene.instant("ends_at", self.ends_at)


class DelegationView(Struct, kw_only=True):
    id: str
    delegator: str
    delegate: str
    role: str
    starts_at: datetime
    ends_at: datetime
    revoked: bool


class VerdictRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    """Body of POST /v1/decisions/{id}/approvals."""

    verdict: Verdict
    reason: LongText | None = None

    def __post_init__(self) -> None:
        hygiene.check(self)


class WithdrawRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    reason: LongText | None = None

    def __post_init__(self) -> None:
        hygiene.check(self)


class Route(Struct, kw_only=True):
    tier: int
    #: The role that must sign off; None for tiers the squad resolves itself.
    role: str | None
    count: int
    exclude_filer: bool
    #: Everyone in the directory who may approve this decision (filer excluded when required).
    approvers: list[str]
    #: Every role that may sign off, and what the approvals must differ in (person, squad, role).
    roles: list[str] = msgspec.field(default_factory=list)
    distinct: str = "person"


class MatchedRuleView(Struct, kw_only=True):
    id: str
    tier: int
    description: str


class Explanation(Struct, kw_only=True):
    base_tier: int
    matched_rules: list[MatchedRuleView]
    policy_version: str
    known_category: bool
    #: One sentence a person can read: why this tier.
    summary: str


class ClassificationView(Struct, kw_only=True):
    category: str
    tier: int
    tier_name: str
    attributes: dict[str, Any]
    route: Route
    explanation: Explanation
    #: Identity-provider groups whose members may also sign off (`route.approvers` lists the directory's people).
    approver_groups: list[str] = msgspec.field(default_factory=list)


class ApprovalView(Struct, kw_only=True):
    approver: str
    verdict: Verdict
    role: str
    reason: str | None
    at: datetime
    #: Set when the approver acted under a delegation from this person.
    on_behalf_of: str | None = None
    #: Dismissed by an amendment that changed what the approver signed.
    dismissed: bool = False


class DecisionView(Struct, kw_only=True):
    id: str
    title: str
    category: str
    attributes: dict[str, Any]
    rationale: str | None
    client: str | None
    links: list[str]
    filed_by: str
    squad: str | None
    tier: int
    route: Route
    status: Status
    explanation: Explanation
    approvals: list[ApprovalView]
    created_at: datetime
    updated_at: datetime
    decided_at: datetime | None
    #: Position of the filing event in the log.
    seq: int
    policy_version: str
    supersedes: str | None = None
    superseded_by: str | None = None
    break_glass_reason: str | None = None
    #: What the quorum still needs, in words (empty when nothing is missing).
    missing: str | None = None
    #: Identity-provider groups whose members may also sign off, under the policy in force now (their
    #: members are known only when they sign in; `route.approvers` lists the directory's people).
    approver_groups: list[str] = msgspec.field(default_factory=list)


class EventView(Struct, kw_only=True):
    seq: int
    type: str
    actor: str
    at: datetime
    decision_id: str | None
    data: dict[str, Any]
    leaf_hash: str
    prev_hash: str


class DecisionDetail(DecisionView, kw_only=True):
    events: list[EventView] = msgspec.field(default_factory=list)


class DecisionFilter(Struct, kw_only=True):
    status: Status | None = None
    tier: int | None = None
    category: str | None = None
    squad: str | None = None
    filed_by: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    #: Free text: every word must occur in the title, the rationale or a comment (stemmed).
    q: str | None = None


#: Orders of a decisions list: filed newest or oldest first, highest tier first, or title A-Z.
DecisionSort = Literal["newest", "oldest", "tier", "title"]
DECISION_SORTS: tuple[DecisionSort, ...] = ("newest", "oldest", "tier", "title")


#: Orders of the inbox: filed oldest (the longest wait) or newest first, highest tier first (oldest first
#: within a tier), or due soonest first (filing time plus the tier's SLA; tiers without an SLA last).
InboxSort = Literal["oldest", "newest", "tier", "due"]
INBOX_SORTS: tuple[InboxSort, ...] = ("oldest", "newest", "tier", "due")


class DecisionPage(Struct, kw_only=True):
    items: list[DecisionView]
    #: Opaque; pass as `cursor` to get the next page. None on the last page.
    next_cursor: str | None


class InboxItem(Struct, kw_only=True):
    decision: DecisionView
    waiting_seconds: float
    due_at: datetime | None
    overdue: bool
    #: Set when this item is in the inbox through a delegation from that person.
    on_behalf_of: str | None = None
    #: In the inbox because the policy escalates it here once overdue (`escalate_to`), and why.
    #: Escalation shows it; whether this person may also sign it is the rules' answer.
    escalated: bool = False
    escalation: str | None = None


class InboxPage(Struct, kw_only=True):
    items: list[InboxItem]
    #: Opaque; pass as `cursor` to get the next page. None on the last page.
    next_cursor: str | None


class FilingResult(Struct, kw_only=True):
    decision: DecisionView
    #: False when an Idempotency-Key replay returned the decision filed earlier.
    created: bool


class GateView(Struct, kw_only=True):
    """GET /v1/decisions/{id}/gate: whether a pipeline may go ahead, and why (one line)."""

    passed: bool = msgspec.field(name="pass")
    status: Status
    reason: str
    decision_id: str
