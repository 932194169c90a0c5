"""A director signs in through a real OpenID provider's own login page in Chromium and approves.

`decisions serve` runs with DECISIONS_OIDC_* pointing at oidc-provider (tests/oidc); nothing
about the sign-in is simulated: discovery, the authorization code flow with PKCE, the ID token
against the provider's keys, and RP-initiated logout all happen over real HTTP.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM, shot
from tests.oidc.fixture import WEB_CLIENT, OidcProvider
from tests.served import Served, free_port, issue_tokens
from tests.support import DEFAULT_POLICY, IN_CI

pytestmark = pytest.mark.browser


class OidcServer:
    def __init__(self, url: str, provider: OidcProvider, mei_token: str) -> None:
        self.url = url
        self.provider = provider
        self.mei_token = mei_token


@pytest.fixture(scope="module")
def oidc_server(
    tmp_path_factory: pytest.TempPathFactory, oidc_provider_factory: Callable[..., OidcProvider]
) -> Iterator[OidcServer]:
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing (mandatory under CI=true)")
        pytest.skip(f"{CHROMIUM} is missing")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    provider = oidc_provider_factory(
        redirect_uris=[f"{url}/login/oidc/callback"], post_logout_redirect_uris=[f"{url}/login"]
    )
    home = tmp_path_factory.mktemp("oidc-server")
    database_url = f"sqlite:///{home / 'decisions.db'}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DECISIONS_POLICY": str(DEFAULT_POLICY),
        "DECISIONS_STATE_DIR": str(home / "state"),
        "DECISIONS_OIDC_ISSUER": provider.issuer,
        "DECISIONS_OIDC_CLIENT_ID": WEB_CLIENT[0],
        "DECISIONS_OIDC_CLIENT_SECRET": WEB_CLIENT[1],
        "DECISIONS_OIDC_SCOPES": "openid email profile groups",
    }
    env.pop("DECISIONS_SIGNING_KEY", None)
    mei_token = issue_tokens(database_url, DEFAULT_POLICY, home / "state", ["mei"])["mei"]
    with Served(env, home / "server.log", port=port).start(within=20) as served:
        yield OidcServer(served.url, provider, mei_token)


def _file_tier3(server: OidcServer) -> str:
    body = json.dumps(
        {"title": "Onboard Acme's evaluation contract", "category": "contract", "attributes": {"change": "scope"}}
    ).encode()
    request = urllib.request.Request(
        server.url + "/v1/decisions",
        data=body,
        headers={"Authorization": f"Bearer {server.mei_token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        decision_id: str = json.load(response)["id"]
    return decision_id


def test_a_director_signs_in_through_the_provider_and_approves(oidc_server: OidcServer, chromium: Any) -> None:
    decision_id = _file_tier3(oidc_server)
    context = chromium.new_context(base_url=oidc_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto("/inbox")
    page.get_by_role("link", name="Sign in with your organisation").click()

    # The provider's own login page, on the provider's origin.
    page.wait_for_url(f"{oidc_server.provider.issuer}/interaction/**")
    shot(page, "oidc-01-provider-login", axe=False)  # the provider's page, not ours
    page.locator('input[name="login"]').fill("dana")
    page.locator('input[name="password"]').fill("not checked by the test provider")
    page.get_by_role("button", name="Sign-in").click()

    # Back on our site, signed in, where the sign-in began.
    page.wait_for_url(f"{oidc_server.url}/inbox")
    row = page.locator(f'[data-decision="{decision_id}"]')
    assert row.count() == 1
    shot(page, "oidc-02-inbox-after-sign-in")
    row.get_by_role("button", name="Approve").click()
    page.wait_for_url("**/inbox?message=*")
    assert "approved" in page.get_by_role("status").inner_text()
    page.goto(f"/decisions/{decision_id}")
    assert "approved" in page.locator("main").inner_text()
    assert "Dana (director) approved" in page.locator("main").inner_text()  # the directory's name for her

    # Sign-out ends the session here and asks the provider to end its own.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{oidc_server.provider.issuer}/session/end**")
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(f"{oidc_server.url}/login**")
    page.goto("/inbox")
    assert page.url.startswith(f"{oidc_server.url}/login?next="), page.url
    # The provider forgot dana too: signing in again shows its login page, not an instant return.
    page.get_by_role("link", name="Sign in with your organisation").click()
    page.wait_for_url(f"{oidc_server.provider.issuer}/interaction/**")
    assert page.locator('input[name="login"]').count() == 1
    context.close()
