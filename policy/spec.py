"""The policy file's shape, as msgspec Structs mirroring `policies.yaml` one to one.

These types only describe structure (keys, types, ranges); cross-references such as a tier's
review cadence or a rule's `$parameter` are checked by `policy.compiler`. The JSON Schema that
editors use is generated from these same types (`policy.schema`).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, get_args

import msgspec

from policy.compiled import ROLES

#: A tier of authority: 1 (the squad) to 3 (the director).
TierNumber = Annotated[int, msgspec.Meta(ge=1, le=3)]
Role = Literal["squad_member", "tech_pm", "director", "auditor", "admin"]
FieldTypeName = Literal["number", "integer", "string", "boolean", "list"]
ParameterValue = bool | int | float | str
#: A duration such as "3d", "36h", "90m" or "2w" (several units may be combined: "1d12h").
Duration = Annotated[str, msgspec.Meta(pattern=r"^([0-9]+[wdhms])+$", examples=["3d", "36h", "90m", "2w"])]

#: A fraction of a tier's SLA, as a percentage ("50%", "90%", "87.5%").
Percent = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,3}(\.[0-9]+)?%$", examples=["50%", "90%"])]
#: A Slack member id, as Slack shows it in a profile ("U0123ABCD"; "W..." on Enterprise Grid).
SlackUserId = Annotated[str, msgspec.Meta(pattern=r"^[UW][A-Z0-9]{2,20}$", examples=["U0123ABCD"])]

if get_args(Role) != ROLES:  # pragma: no cover - a programming error, caught by any import
    raise RuntimeError("policy.spec.Role must list exactly policy.compiled.ROLES")


class Spec(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    """Base for every policy type: unknown keys are errors, never silently ignored."""


class PersonSpec(Spec):
    roles: list[Role]
    squad: str | None = None
    display_name: str | None = None
    email: str | None = None
    #: The identity provider's stable subject (`sub`) for this person, when `identity.match` is `sub`.
    subject: str | None = None
    #: Their Slack member id (`U0123ABCD`): approval requests go to their DMs, and their clicks
    #: in Slack act as this person. Without it, requests go to the configured channel.
    slack: SlackUserId | None = None


class ApproversSpec(Spec):
    #: One role (`role: tech_pm`) or several (`roles: [tech_pm, director]`), not both.
    role: Role | None = None
    roles: list[Role] | None = None
    count: Annotated[int, msgspec.Meta(ge=1)] = 1
    #: The filer never approves their own decision: `false` is refused (policy.compiler), and the rules
    #: exclude the filer whatever a route says (engine.lifecycle). Kept so existing files that write
    #: `exclude_filer: true` still load.
    exclude_filer: Annotated[
        bool,
        msgspec.Meta(
            description="Always true: the filer never approves their own decision (false is refused).",
            extra_json_schema={"const": True},
        ),
    ] = True
    #: What the `count` approvals must differ in: people (default), squads, or roles
    #: (`roles: [tech_pm, director], count: 2, distinct: role` = one tech PM and one director).
    distinct: Literal["person", "squad", "role"] = "person"


class TierSpec(Spec):
    """Exactly one of `approval: self` (the squad resolves it) or `approvers`."""

    name: str
    approval: Literal["self"] | None = None
    approvers: ApproversSpec | None = None
    review: str | None = None
    sla: Duration | None = None
    #: When the filer amends a pending decision: `when_material` keeps approvals only when the
    #: change touches nothing but fields declared `material: false` (tier and route unchanged);
    #: `always` dismisses them on any change.
    invalidate_on_amend: Literal["always", "when_material"] = "when_material"
    #: Whether approvers of this tier may delegate their sign-off.
    delegation: bool = True
    #: Whether a filer may proceed before sign-off (break-glass); default: tier 2 only.
    break_glass: bool | None = None
    #: Who may break the glass (default: anyone who may file).
    break_glass_roles: list[Role] | None = None
    #: Reminders to the approvers still awaited, at these fractions of the SLA (needs `sla`).
    remind: list[Percent] = []
    #: Once the SLA has passed, who else is told and sees the decision in their inbox, flagged
    #: with the reason: a role (`director`) or a person of the directory (`dana`).
    escalate_to: str | None = None


class ReviewSpec(Spec):
    every: Duration
    anchor: date
    #: What people call this review ("Weekly operational sync"); pages and digests use it.
    title: str | None = None


class FieldSpec(Spec):
    type: FieldTypeName
    required: bool = False
    default: Any | msgspec.UnsetType = msgspec.UNSET
    enum: list[Any] | None = None
    min: int | float | None = None
    max: int | float | None = None
    description: str | None = None
    #: The field's name in words ("Deviation from the quality bar") and its unit ("%"), for forms,
    #: pages, digests and notifications; the id is shown where none is given.
    label: str | None = None
    unit: str | None = None
    #: `false` declares a change of this field immaterial: an amendment that changes only such
    #: fields keeps the approvals already given (under `invalidate_on_amend: when_material`).
    material: bool = True


class RuleSpec(Spec):
    id: str
    #: A structured condition: `{field: value}`, `{field: {gt: 2}}`, `all`/`any`/`not`.
    when: dict[str, Any]
    tier: TierNumber
    description: str | None = None


class ExampleSpec(Spec):
    attributes: dict[str, Any]
    tier: TierNumber
    description: str | None = None


class CategorySpec(Spec):
    base_tier: TierNumber
    description: str | None = None
    fields: dict[str, FieldSpec] = {}
    rules: list[RuleSpec] = []
    examples: list[ExampleSpec] = []


class BaselineSpec(Spec):
    start: date
    end: date


class MetricsSpec(Spec):
    baseline: BaselineSpec | None = None
    #: Minutes of the director's time one escalated item takes: the effect report's estimate of
    #: hours recaptured is (items the baseline rate predicts - items that reached the director) x this.
    director_minutes_per_item: Annotated[float, msgspec.Meta(gt=0, le=10_000)] | None = None


class GroupSpec(Spec):
    """What membership of one identity-provider group gives: roles, a squad, or both."""

    roles: list[Role] = []
    squad: str | None = None


class ServiceSpec(Spec):
    """A machine client (OAuth client id) allowed on the API with the `service` role."""

    description: str | None = None


class IdentitySpec(Spec):
    """How people signed in through the organisation's OpenID provider become directory people."""

    #: The claim that names a directory person: `email` (their `email:`) or `sub` (their `subject:`).
    match: Literal["email", "sub"] = "email"
    #: The claim that lists the person's groups at the provider.
    groups_claim: str = "groups"
    #: Whether roles that sign off decisions (the tiers' approver roles) may come from groups.
    #: Default no: authority over decisions then changes only through a new policy version.
    approver_roles_from_idp: bool = False
    groups: dict[str, GroupSpec] = {}
    #: Client ids whose client-credentials tokens act as service accounts (classify, read, gate).
    services: dict[str, ServiceSpec] = {}


class PolicySpec(Spec):
    #: The version of the policy language (not of this policy: that is the file's hash).
    version: int
    timezone: str
    tiers: dict[TierNumber, TierSpec]
    categories: dict[str, CategorySpec]
    parameters: dict[str, ParameterValue] = {}
    people: dict[str, PersonSpec] = {}
    reviews: dict[str, ReviewSpec] = {}
    unknown_category_tier: TierNumber = 3
    metrics: MetricsSpec | None = None
    identity: IdentitySpec | None = None
