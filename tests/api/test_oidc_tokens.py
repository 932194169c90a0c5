"""Access tokens from a real OpenID provider on the API: a CI job's client-credentials token
classifies and reads; expired, wrong-audience, tampered and unknown-key tokens get 401 problem+json."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from litestar.testing import TestClient

from api.app import create_app
from api.oidc.settings import OidcSettings
from engine.runtime import Runtime, open_runtime
from tests.oidc.fixture import API_RESOURCE, OTHER_RESOURCE, ROGUE_CLIENT, OidcProvider, new_key
from tests.support import DEFAULT_POLICY, ManualClock

IDENTITY = """
identity:
  groups:
    auditors: {roles: [auditor]}
  services:
    ci-pipeline: {description: the release pipeline's gate}
"""
FILING = {
    "title": "Loosen the code-domain bound",
    "category": "quality_threshold",
    "attributes": {"deviation_pct": 3.5},
}


@pytest.fixture(scope="module")
def provider(oidc_provider_factory: Callable[..., OidcProvider]) -> OidcProvider:
    return oidc_provider_factory()


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policies.yaml"
    path.write_text(DEFAULT_POLICY.read_text() + IDENTITY)
    return path


@pytest.fixture
def real_clock() -> ManualClock:
    # Tokens come from a provider on the real clock; the service's clock starts there and moves by hand.
    return ManualClock(datetime.now(UTC))


@pytest.fixture
def oidc_runtime(sqlite_url: str, policy_file: Path, real_clock: ManualClock) -> Iterator[Runtime]:
    rt = open_runtime(sqlite_url, str(policy_file), clock=real_clock)
    yield rt
    rt.close()


def client_for(runtime: Runtime, provider: OidcProvider, **settings: Any) -> TestClient[Any]:
    oidc = OidcSettings(issuer=provider.issuer, audience=API_RESOURCE, jwks_refresh_seconds=0, **settings)
    return TestClient(create_app(runtime, oidc=oidc, web=False), raise_server_exceptions=False)


@pytest.fixture
def api(oidc_runtime: Runtime, provider: OidcProvider) -> Iterator[TestClient[Any]]:
    with client_for(oidc_runtime, provider) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_refused(response: Any, reason: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert reason in response.json()["detail"]
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_ci_job_classifies_reads_and_asks_the_gate_with_a_client_credentials_token(
    api: TestClient[Any], provider: OidcProvider, oidc_runtime: Runtime
) -> None:
    token = provider.client_credentials()
    me = api.get("/v1/me", headers=bearer(token))
    assert me.status_code == 200, me.text
    assert me.json()["name"] == "ci-pipeline"
    assert me.json()["roles"] == ["service"]
    assert me.json()["authority"] == {"service": "client_id=ci-pipeline"}

    classified = api.post("/v1/classify", json=FILING, headers=bearer(token))
    assert classified.status_code == 200, classified.text
    assert classified.json()["tier"] == 2

    mei = oidc_runtime.service.create_token("mei")
    filed = api.post("/v1/decisions", json=FILING, headers=bearer(mei)).json()
    listed = api.get("/v1/decisions", headers=bearer(token))
    assert [d["id"] for d in listed.json()["items"]] == [filed["id"]]
    shown = api.get(f"/v1/decisions/{filed['id']}", headers=bearer(token))
    assert shown.status_code == 200
    assert shown.json()["status"] == "pending"
    gate = api.get(f"/v1/decisions/{filed['id']}/gate", headers=bearer(token))
    assert gate.status_code == 200, gate.text
    assert gate.json()["pass"] is False
    assert "pending" in gate.json()["reason"]
    tomas = oidc_runtime.service.create_token("tomas")
    approved = api.post(f"/v1/decisions/{filed['id']}/approvals", json={"verdict": "approve"}, headers=bearer(tomas))
    assert approved.status_code == 200, approved.text
    assert api.get(f"/v1/decisions/{filed['id']}/gate", headers=bearer(token)).json()["pass"] is True


def assert_forbidden(response: Any, says: str) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == "urn:decision-rights:problem:forbidden"
    assert says in response.json()["detail"]


def test_a_service_account_may_not_file_approve_or_audit(
    api: TestClient[Any], provider: OidcProvider, oidc_runtime: Runtime
) -> None:
    token = provider.client_credentials()
    assert_forbidden(api.post("/v1/decisions", json=FILING, headers=bearer(token)), "ci-pipeline holds service")
    mei = oidc_runtime.service.create_token("mei")
    filed = api.post("/v1/decisions", json=FILING, headers=bearer(mei)).json()
    vote = api.post(f"/v1/decisions/{filed['id']}/approvals", json={"verdict": "approve"}, headers=bearer(token))
    assert_forbidden(vote, "ci-pipeline holds service")
    comment = api.post(f"/v1/decisions/{filed['id']}/comments", json={"text": "ok"}, headers=bearer(token))
    assert_forbidden(comment, "ci-pipeline holds service")
    assert_forbidden(api.get("/v1/log/verify", headers=bearer(token)), "ci-pipeline holds service")
    assert_forbidden(api.get("/v1/inbox", headers=bearer(token)), "ci-pipeline holds service")


def test_a_client_the_policy_does_not_list_is_not_a_service_account(
    api: TestClient[Any], provider: OidcProvider
) -> None:
    token = provider.client_credentials(ROGUE_CLIENT)
    response = api.post("/v1/classify", json=FILING, headers=bearer(token))
    assert response.status_code == 403
    assert "rogue-bot is not a service account of the policy" in response.json()["detail"]


def test_an_expired_token_is_refused(api: TestClient[Any], provider: OidcProvider, real_clock: ManualClock) -> None:
    token = provider.client_credentials()
    assert api.get("/v1/me", headers=bearer(token)).status_code == 200
    real_clock.advance(seconds=provider.access_token_ttl + 60)
    assert_refused(api.get("/v1/me", headers=bearer(token)), "the token has expired")


def test_a_token_for_another_api_is_refused(api: TestClient[Any], provider: OidcProvider) -> None:
    token = provider.client_credentials(resource=OTHER_RESOURCE)
    assert_refused(api.get("/v1/me", headers=bearer(token)), f"is for '{OTHER_RESOURCE}', not this API")


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_tampered_token_is_refused(api: TestClient[Any], provider: OidcProvider) -> None:
    header, payload, signature = _segments(provider.client_credentials())
    # One bit of the signature flipped.
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[10] ^= 0x01
    flipped = ".".join([header, payload, _b64(bytes(raw))])
    assert_refused(api.get("/v1/me", headers=bearer(flipped)), "signature does not verify")
    # The claims changed under the provider's signature: a longer life.
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] += 86400
    stretched = ".".join([header, _b64(json.dumps(claims).encode()), signature])
    assert_refused(api.get("/v1/me", headers=bearer(stretched)), "signature does not verify")


def test_a_token_signed_with_a_key_the_provider_never_published_is_refused(
    api: TestClient[Any], provider: OidcProvider, real_clock: ManualClock
) -> None:
    now = int(real_clock().timestamp())
    claims = {"iss": provider.issuer, "aud": API_RESOURCE, "sub": "ci-pipeline", "client_id": "ci-pipeline"}
    forged = jwt.encode(
        {"alg": "RS256", "kid": "attacker"},
        {**claims, "iat": now, "exp": now + 300},
        RSAKey.import_key(new_key("attacker")),
    )
    assert_refused(api.get("/v1/me", headers=bearer(forged)), "a key the identity provider does not publish")
    hmac_signed = jwt.encode(
        {"alg": "HS256"}, {**claims, "exp": now + 300}, OctKey.import_key(b"a shared secret, guessed" * 2)
    )
    assert_refused(api.get("/v1/me", headers=bearer(hmac_signed)), "not a valid signed JWT")


def test_keys_the_provider_rotates_in_are_fetched_on_first_sight(
    oidc_provider_factory: Callable[..., OidcProvider], oidc_runtime: Runtime
) -> None:
    provider = oidc_provider_factory()
    with client_for(oidc_runtime, provider) as api:
        before = provider.client_credentials()
        assert api.get("/v1/me", headers=bearer(before)).status_code == 200
        provider.restart(keys=[new_key("key-2"), *provider.keys])  # key-2 signs from now on; key-1 still published
        after = provider.client_credentials()
        assert json.loads(base64.urlsafe_b64decode(_segments(after)[0] + "=="))["kid"] == "key-2"
        assert api.get("/v1/me", headers=bearer(after)).status_code == 200
        assert api.get("/v1/me", headers=bearer(before)).status_code == 200


def test_an_unreachable_provider_is_an_outage_not_a_bad_token(
    oidc_provider_factory: Callable[..., OidcProvider], oidc_runtime: Runtime
) -> None:
    provider = oidc_provider_factory()
    token = provider.client_credentials()
    provider.stop()
    with client_for(oidc_runtime, provider) as api:
        response = api.get("/v1/me", headers=bearer(token))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert response.headers["content-type"].startswith("application/problem+json")


def test_without_an_issuer_a_jwt_is_just_an_unknown_token(oidc_runtime: Runtime, provider: OidcProvider) -> None:
    token = provider.client_credentials()
    with TestClient(create_app(oidc_runtime, web=False), raise_server_exceptions=False) as api:
        response = api.get("/v1/me", headers=bearer(token))
    assert response.status_code == 401
    assert "no issuer is configured" in response.json()["detail"]
