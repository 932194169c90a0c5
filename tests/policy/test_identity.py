"""The policy's `identity:` section: who a provider's claims are, and which roles groups may give."""

from __future__ import annotations

import msgspec
import pytest
import yaml

from policy import PolicyLoadError, load_policy, load_policy_text
from policy.identity import (
    SERVICE_ROLE,
    UnknownIdentity,
    is_client_token,
    person_from_claims,
    service_from_claims,
)
from policy.schema import policy_json_schema
from tests.policy.test_schema import _problems
from tests.policy.texts import SMALL_POLICY, where
from tests.support import DEFAULT_POLICY

PEOPLE = """\
people:
  dana: {roles: [director], email: Dana@Example.com, subject: "u-100"}
  tomas: {roles: [tech_pm], squad: nucleus, email: tomas@example.com}
  mei: {roles: [squad_member], squad: nucleus, email: mei@example.com}
  kim: {roles: [squad_member], email: kim@example.com}
"""

IDENTITY = """\
identity:
  groups:
    ml-atlas: {squad: atlas}
    ml-nucleus: {squad: nucleus, roles: [squad_member]}
    audit: {roles: [auditor]}
  services:
    ci-pipeline: {description: the release pipeline's gate}
"""


def policy_with(identity: str = IDENTITY, people: str = PEOPLE) -> str:
    start = SMALL_POLICY.index("people:")
    end = SMALL_POLICY.index("tiers:")
    return SMALL_POLICY[:start] + people + SMALL_POLICY[end:] + identity


def test_email_matches_the_directory_case_blind_and_groups_add_roles_and_a_squad() -> None:
    policy = load_policy_text(policy_with())
    kim = person_from_claims(
        policy, {"sub": "x", "email": "KIM@example.com", "groups": ["ml-atlas", "ml-nucleus", "audit", "other"]}
    )
    assert kim.name == "kim"
    assert kim.roles == {"squad_member", "auditor"}
    assert kim.squad == "atlas"  # the first group in the policy's order that gives one
    # squad_member was already the directory's word; auditor and the squad came from the claim.
    assert kim.authority == (("squad", "groups=ml-atlas"), ("auditor", "groups=audit"))
    dana = person_from_claims(policy, {"sub": "u-100", "email": "dana@example.com"})
    assert (dana.name, dana.roles, dana.authority) == ("dana", {"director"}, ())


def test_sub_matching_uses_the_people_subject() -> None:
    policy = load_policy_text(policy_with(IDENTITY.replace("identity:\n", "identity:\n  match: sub\n")))
    assert person_from_claims(policy, {"sub": "u-100", "email": "someone@else.org"}).name == "dana"
    with pytest.raises(UnknownIdentity, match="u-999"):
        person_from_claims(policy, {"sub": "u-999", "email": "dana@example.com"})


def test_strangers_and_unverified_addresses_are_refused_in_words() -> None:
    policy = load_policy_text(policy_with())
    with pytest.raises(UnknownIdentity, match="no person with that email"):
        person_from_claims(policy, {"sub": "x", "email": "eve@example.com"})
    with pytest.raises(UnknownIdentity, match="not verified"):
        person_from_claims(policy, {"sub": "x", "email": "kim@example.com", "email_verified": False})
    with pytest.raises(UnknownIdentity, match="no `email` claim"):
        person_from_claims(policy, {"sub": "x"})


def test_approver_roles_from_groups_are_refused_unless_the_policy_allows_them() -> None:
    text = policy_with(IDENTITY.replace("roles: [auditor]", "roles: [auditor, tech_pm]"))
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_text(text, "p.yaml")
    (issue,) = caught.value.issues
    assert "tech_pm, which signs off decisions" in issue.message
    assert "approver_roles_from_idp" in (issue.hint or "")
    assert (issue.line, issue.column) == where(text, "[auditor, tech_pm]")

    allowed = load_policy_text(text.replace("identity:\n", "identity:\n  approver_roles_from_idp: true\n"))
    kim = person_from_claims(allowed, {"email": "kim@example.com", "groups": "audit"})
    assert "tech_pm" in kim.roles
    assert ("tech_pm", "groups=audit") in kim.authority


def test_two_people_with_one_address_cannot_both_sign_in() -> None:
    text = policy_with(people=PEOPLE.replace("kim@example.com", "mei@EXAMPLE.com"))
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_text(text, "p.yaml")
    (issue,) = caught.value.issues
    assert "'kim' and 'mei' share the email" in issue.message


def test_service_accounts_are_only_the_clients_the_policy_lists() -> None:
    policy = load_policy_text(policy_with())
    ci = service_from_claims(policy, {"sub": "ci-pipeline", "client_id": "ci-pipeline"})
    assert (ci.name, ci.roles) == ("ci-pipeline", {SERVICE_ROLE})
    with pytest.raises(UnknownIdentity, match="rogue is not a service account"):
        service_from_claims(policy, {"sub": "rogue", "client_id": "rogue"})


def test_client_tokens_are_told_from_people_s_tokens() -> None:
    assert is_client_token({"sub": "ci-pipeline", "client_id": "ci-pipeline"})  # RFC 9068, Okta, oidc-provider
    assert is_client_token({"sub": "8c1e-sp-object-id", "azp": "ci-pipeline", "idtyp": "app"})  # Entra ID app-only
    assert not is_client_token({"sub": "u-100", "client_id": "decisions-web", "email": "dana@example.com"})
    assert not is_client_token({"sub": "u-100"})


def test_the_schema_describes_the_identity_section() -> None:
    schema = policy_json_schema()
    document = msgspec.to_builtins(yaml.safe_load(policy_with()), str_keys=True)
    assert _problems(document, schema, schema["$defs"], "$") == []
    document["identity"]["match"] = "upn"
    assert _problems(document, schema, schema["$defs"], "$") == ["$.identity: matches no option"]


def test_the_default_policy_matches_people_by_email() -> None:
    policy = load_policy(DEFAULT_POLICY)
    assert policy.identity.match == "email"
    assert not policy.identity.approver_roles_from_idp
    assert person_from_claims(policy, {"email": "dana@example.com"}).name == "dana"
    assert msgspec.json.encode(sorted(policy.identity.services)) == b"[]"


def test_the_authority_an_event_records_is_read_back_only_as_the_policy_gives_it() -> None:
    from policy.identity import person_from_authority

    text = policy_with(
        "identity:\n  approver_roles_from_idp: true\n  groups:\n    pms: {roles: [tech_pm]}\n"
        "    ml-atlas: {squad: atlas}\n    audit: {roles: [auditor]}\n"
    )
    policy = load_policy_text(text)
    kim = policy.people["kim"]
    acting = person_from_authority(policy, kim, {"tech_pm": "groups=pms", "squad": "groups=ml-atlas"})
    assert acting.roles == {"squad_member", "tech_pm"} and acting.squad == "atlas"
    assert person_from_authority(policy, kim, None) is kim
    # A role the named group does not give, a group the policy does not know, a claim of another kind.
    for forged in ({"tech_pm": "groups=audit"}, {"tech_pm": "groups=admins"}, {"tech_pm": "email=kim@example.com"},
                   ["tech_pm"]):  # fmt: skip
        with pytest.raises(UnknownIdentity):
            person_from_authority(policy, kim, forged)
    # Under a policy that keeps approver roles to the directory, the same record does not stand.
    barred = load_policy_text(policy_with("identity:\n  groups:\n    audit: {roles: [auditor]}\n"))
    with pytest.raises(UnknownIdentity, match="those groups give no role"):
        person_from_authority(barred, barred.people["kim"], {"tech_pm": "groups=pms"})
