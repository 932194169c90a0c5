"""Web sign-in through a real OpenID provider (oidc-provider), its login page driven over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.oidc.settings import OidcSettings
from engine.log.audit import audit_database
from engine.runtime import Runtime, open_runtime
from tests.oidc.fixture import WEB_CLIENT, OidcProvider, new_key, sign_in_at_provider
from tests.support import DEFAULT_POLICY

IDENTITY = """
identity:
  groups:
    auditors: {roles: [auditor]}
    ml-atlas: {squad: atlas}
"""
KIM = "  kim:   {roles: [squad_member], display_name: Kim, email: kim@example.com}\n"


@pytest.fixture(scope="module")
def provider(oidc_provider_factory: Callable[..., OidcProvider]) -> OidcProvider:
    return oidc_provider_factory()


@pytest.fixture
def oidc_runtime(sqlite_url: str, tmp_path: Path) -> Iterator[Runtime]:
    text = DEFAULT_POLICY.read_text().replace("people:\n", "people:\n" + KIM, 1) + IDENTITY
    (tmp_path / "policies.yaml").write_text(text)
    rt = open_runtime(sqlite_url, str(tmp_path / "policies.yaml"))
    yield rt
    rt.close()


@pytest.fixture
def web(oidc_runtime: Runtime, provider: OidcProvider) -> Iterator[TestClient[Any]]:
    settings = OidcSettings(
        issuer=provider.issuer, client_id=WEB_CLIENT[0], client_secret=WEB_CLIENT[1], scopes="openid email groups"
    )
    with TestClient(create_app(oidc_runtime, oidc=settings), raise_server_exceptions=False) as client:
        yield client


def start(web: TestClient[Any], next_path: str = "/") -> str:
    response = web.get(f"/login/oidc?{urlencode({'next': next_path})}", follow_redirects=False)
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def callback_path(url: str) -> str:
    parts = urlsplit(url)
    assert parts.path == "/login/oidc/callback", url
    return urlunsplit(("", "", parts.path, parts.query, ""))


def test_the_sign_in_page_offers_the_organisation_s_sign_in(web: TestClient[Any]) -> None:
    page = web.get("/login")
    assert 'href="/login/oidc?next=/"' in page.text
    assert 'name="token"' in page.text  # token sign-in stays beside it


def test_a_director_signs_in_through_the_provider(web: TestClient[Any], provider: OidcProvider) -> None:
    authorization = start(web, "/inbox")
    query = parse_qs(urlsplit(authorization).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    returned = sign_in_at_provider(authorization, "dana", provider.issuer)
    landed = web.get(callback_path(returned), follow_redirects=False)
    assert landed.status_code == 303, landed.text
    assert landed.headers["location"] == "/inbox"
    inbox = web.get("/inbox")
    assert inbox.status_code == 200
    assert "Dana" in inbox.text


def test_the_provider_s_own_callback_parameters_do_not_stop_sign_in(
    web: TestClient[Any], provider: OidcProvider
) -> None:
    # The API refuses query parameters it does not declare; the callback is a page and must not: providers
    # add their own (RFC 9207's `iss`, session management's `session_state`, ...).
    returned = sign_in_at_provider(start(web, "/inbox"), "dana", provider.issuer)
    query = parse_qs(urlsplit(returned).query)
    assert set(query) >= {"code", "state", "iss"}, query
    extra = urlencode({"session_state": "0f1e2d.c3b4a5", "locale": "en"})
    landed = web.get(f"{callback_path(returned)}&{extra}", follow_redirects=False)
    assert landed.status_code == 303, landed.text
    assert landed.headers["location"] == "/inbox"
    assert "Dana" in web.get("/inbox").text


def test_groups_give_roles_and_the_page_knows_them(web: TestClient[Any], provider: OidcProvider) -> None:
    returned = sign_in_at_provider(start(web, "/audit"), "kim", provider.issuer)
    assert web.get(callback_path(returned), follow_redirects=False).status_code == 303
    audit = web.get("/audit")  # auditors only: kim's `auditors` group gives her the role
    assert audit.status_code == 200, audit.text


def test_someone_the_directory_does_not_know_gets_a_clear_page(web: TestClient[Any], provider: OidcProvider) -> None:
    returned = sign_in_at_provider(start(web), "eve", provider.issuer)
    page = web.get(callback_path(returned), follow_redirects=False)
    assert page.status_code == 403
    assert "Not in the directory" in page.text
    assert "eve@example.com" in page.text
    assert web.get("/", follow_redirects=False).status_code == 303  # and no session


def test_an_answer_for_another_sign_in_is_refused(web: TestClient[Any], provider: OidcProvider) -> None:
    returned = sign_in_at_provider(start(web), "dana", provider.issuer)
    parts = urlsplit(returned)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["state"] = "someone-elses-state"
    page = web.get(f"{parts.path}?{urlencode(query)}", follow_redirects=False)
    assert page.status_code == 401
    assert "does not belong to the sign-in this browser started" in page.text
    assert web.get("/", follow_redirects=False).status_code == 303


def test_a_callback_in_a_browser_that_did_not_start_is_refused(
    web: TestClient[Any], provider: OidcProvider, oidc_runtime: Runtime
) -> None:
    returned = sign_in_at_provider(start(web), "dana", provider.issuer)
    web.cookies.clear()
    page = web.get(callback_path(returned), follow_redirects=False)
    assert page.status_code == 400
    assert "Sign-in expired" in page.text


def test_sign_out_ends_the_session_here_and_at_the_provider(web: TestClient[Any], provider: OidcProvider) -> None:
    returned = sign_in_at_provider(start(web), "dana", provider.issuer)
    web.get(callback_path(returned), follow_redirects=False)
    home = web.get("/")
    assert home.status_code == 200
    csrf = web.cookies.get("decisions_csrf")
    out = web.post("/logout", headers={"x-csrftoken": csrf or ""}, follow_redirects=False)
    assert out.status_code == 303
    end = urlsplit(out.headers["location"])
    assert f"{end.scheme}://{end.netloc}{end.path}" == provider.issuer + "/session/end"
    query = parse_qs(end.query)
    assert query["post_logout_redirect_uri"] == ["http://testserver.local/login"]
    assert query["id_token_hint"][0].count(".") == 2
    assert web.get("/", follow_redirects=False).status_code == 303


def test_without_a_client_id_sign_in_stays_by_token(oidc_runtime: Runtime, provider: OidcProvider) -> None:
    settings = OidcSettings(issuer=provider.issuer)
    with TestClient(create_app(oidc_runtime, oidc=settings), raise_server_exceptions=False) as client:
        assert "/login/oidc" not in client.get("/login").text
        assert client.get("/login/oidc", follow_redirects=False).headers["location"] == "/login"


def test_an_approval_on_a_role_from_a_group_names_that_group_in_the_log(
    sqlite_url: str, tmp_path: Path, provider: OidcProvider
) -> None:
    # This policy lets the provider's `pms` group give tech_pm: kim signs off on her group's word.
    text = DEFAULT_POLICY.read_text().replace("people:\n", "people:\n" + KIM, 1)
    text += "\nidentity:\n  approver_roles_from_idp: true\n  groups:\n    pms: {roles: [tech_pm]}\n"
    (tmp_path / "policies.yaml").write_text(text)
    rt = open_runtime(sqlite_url, str(tmp_path / "policies.yaml"))
    settings = OidcSettings(
        issuer=provider.issuer, client_id=WEB_CLIENT[0], client_secret=WEB_CLIENT[1], scopes="openid email groups"
    )
    try:
        with TestClient(create_app(rt, oidc=settings), raise_server_exceptions=False) as web:
            mei = {"Authorization": f"Bearer {rt.service.create_token('mei')}"}
            filing = {"title": "Wider bound", "category": "quality_threshold", "attributes": {"deviation_pct": 3.5}}
            decision = web.post("/v1/decisions", json=filing, headers=mei).json()
            assert decision["tier"] == 2
            returned = sign_in_at_provider(start(web), "kim", provider.issuer)
            web.get(callback_path(returned), follow_redirects=False)
            csrf = web.cookies.get("decisions_csrf") or ""
            voted = web.post(
                f"/decisions/{decision['id']}/verdict",
                data={"verdict": "approve"},
                headers={"x-csrftoken": csrf},
                follow_redirects=False,
            )
            assert voted.status_code == 303, voted.text
            detail = web.get(f"/v1/decisions/{decision['id']}", headers=mei).json()
            assert detail["status"] == "approved"
            approval = next(e for e in detail["events"] if e["actor"] == "kim")
            assert approval["data"]["authority"] == {"tech_pm": "groups=pms"}
            filed = next(e for e in detail["events"] if e["type"] == "decision_filed")
            assert "authority" not in filed["data"]  # mei acted on the directory's word alone
            # The replay audit reads the same authority back from the log and finds the approval allowed.
            assert audit_database(rt.service.engine).ok
    finally:
        rt.close()


def test_sign_in_survives_the_provider_rotating_its_signing_key(
    oidc_runtime: Runtime, oidc_provider_factory: Callable[..., OidcProvider]
) -> None:
    provider = oidc_provider_factory()
    settings = OidcSettings(
        issuer=provider.issuer, client_id=WEB_CLIENT[0], client_secret=WEB_CLIENT[1], scopes="openid email"
    )
    with TestClient(create_app(oidc_runtime, oidc=settings), raise_server_exceptions=False) as web:
        first = sign_in_at_provider(start(web), "dana", provider.issuer)
        assert web.get(callback_path(first), follow_redirects=False).status_code == 303  # key-1 now cached
        provider.restart(keys=[new_key("key-2")])  # key-1 withdrawn, key-2 signs
        again = sign_in_at_provider(start(web), "dana", provider.issuer)
        landed = web.get(callback_path(again), follow_redirects=False)
        assert landed.status_code == 303, landed.text
        assert web.get("/").status_code == 200
