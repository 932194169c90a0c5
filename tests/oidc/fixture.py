"""A real OpenID provider for the tests: panva's oidc-provider (npm, pinned by package-lock.json) under node.

`npm ci` installs it into tests/oidc/provider/node_modules the first time a test needs it (one
process at a time, under a file lock). Each provider gets its own port, signing keys, clients and
accounts; `restart(keys=...)` brings it back on the same issuer with other keys (key rotation).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey

from tests.served import free_port
from tests.support import IN_CI

HERE = Path(__file__).parent / "provider"
API_RESOURCE = "urn:decisions:api"
OTHER_RESOURCE = "urn:elsewhere:api"
WEB_CLIENT = ("decisions-web", "web-secret-for-tests-only")
CI_CLIENT = ("ci-pipeline", "ci-secret-for-tests-only")
ROGUE_CLIENT = ("rogue-bot", "rogue-secret-for-tests-only")

#: login name -> claims. dana and tomas are in the default directory; eve is not; kim is added by
#: the identity tests' policy, with roles that only her groups give.
ACCOUNTS: dict[str, dict[str, Any]] = {
    "dana": {"email": "dana@example.com", "name": "Dana", "groups": ["directors"]},
    "tomas": {"email": "tomas@example.com", "name": "Tomas", "groups": ["pms"]},
    "mei": {"email": "mei@example.com", "name": "Mei", "groups": ["ml-nucleus"]},
    "kim": {"email": "kim@example.com", "name": "Kim", "groups": ["ml-atlas", "auditors", "pms"]},
    "eve": {"email": "eve@example.com", "name": "Eve", "groups": ["directors"]},
}


def new_key(kid: str) -> dict[str, Any]:
    key = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"}, private=True)
    return dict(key.as_dict(private=True))


def install_provider() -> None:
    """`npm ci` from the lockfile, once (the lock keeps parallel test workers from racing)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        message = "node and npm are needed to run the OpenID provider (apt-get install -y nodejs npm)"
        if IN_CI:
            pytest.fail(message + " (mandatory under CI=true)")
        pytest.skip(message)
    with (HERE / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (HERE / "node_modules" / "oidc-provider" / "package.json").exists():
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=HERE,
                check=True,
                capture_output=True,
                timeout=300,
            )


@dataclass
class OidcProvider:
    home: Path
    port: int
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    keys: list[dict[str, Any]] = field(default_factory=lambda: [new_key("key-1")])
    access_token_ttl: int = 600
    process: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> dict[str, Any]:
        def machine(client: tuple[str, str]) -> dict[str, Any]:
            return {
                "client_id": client[0],
                "client_secret": client[1],
                "grant_types": ["client_credentials"],
                "response_types": [],
                "redirect_uris": [],
            }

        return {
            "port": self.port,
            "issuer": self.issuer,
            "keys": {"keys": self.keys},
            "accessTokenTTL": self.access_token_ttl,
            "accounts": ACCOUNTS,
            "resources": {API_RESOURCE: {"scope": "decisions"}, OTHER_RESOURCE: {"scope": "elsewhere"}},
            "clients": [
                {
                    "client_id": WEB_CLIENT[0],
                    "client_secret": WEB_CLIENT[1],
                    "grant_types": ["authorization_code"],
                    "response_types": ["code"],
                    "redirect_uris": self.redirect_uris,
                    "post_logout_redirect_uris": self.post_logout_redirect_uris,
                },
                machine(CI_CLIENT),
                machine(ROGUE_CLIENT),
            ],
        }

    def start(self) -> None:
        config = self.home / "provider.json"
        config.write_text(json.dumps(self.config()))
        log = (self.home / "provider.log").open("ab")
        self.process = subprocess.Popen(
            ["node", str(HERE / "server.mjs"), str(config)],
            cwd=HERE,
            stdout=log,
            stderr=log,
            env={**os.environ, "NODE_ENV": "test"},
        )
        for _ in range(300):
            try:
                with urllib.request.urlopen(self.issuer + "/.well-known/openid-configuration", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
        pytest.fail("the OpenID provider did not start:\n" + (self.home / "provider.log").read_text())

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def restart(self, keys: list[dict[str, Any]]) -> None:
        """The same issuer with another key set: the first key signs from now on."""
        self.stop()
        self.keys = keys
        self.start()

    def client_credentials(self, client: tuple[str, str] = CI_CLIENT, resource: str = API_RESOURCE) -> str:
        """An access token obtained the way a CI job would: client credentials, for one resource."""
        response = httpx.post(
            self.issuer + "/token",
            data={"grant_type": "client_credentials", "resource": resource, "scope": "decisions"},
            auth=client,
            timeout=10,
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token


@pytest.fixture(scope="session")
def oidc_provider_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Start providers: factory(redirect_uris=[...], post_logout_redirect_uris=[...]) -> OidcProvider."""
    install_provider()
    started: list[OidcProvider] = []

    def start(
        redirect_uris: list[str] | None = None, post_logout_redirect_uris: list[str] | None = None
    ) -> OidcProvider:
        provider = OidcProvider(
            home=tmp_path_factory.mktemp("oidc"),
            port=free_port(),
            redirect_uris=redirect_uris or ["http://testserver.local/login/oidc/callback"],
            post_logout_redirect_uris=post_logout_redirect_uris or ["http://testserver.local/login"],
        )
        provider.start()
        started.append(provider)
        return provider

    try:
        yield start
    finally:
        for provider in started:
            provider.stop()


def sign_in_at_provider(authorization_url: str, login: str, issuer: str) -> str:
    """Walk the provider's own login page as a browser would (no JavaScript needed) and return the
    URL it finally sends the browser to: our callback, with `code`, `state` and `iss`."""
    import re

    with httpx.Client(timeout=10) as browser:
        url = authorization_url
        for _ in range(10):
            response = browser.get(url)
            if response.status_code in (302, 303) and not response.headers["location"].startswith(("/", issuer)):
                return str(response.headers["location"])
            if response.status_code in (302, 303):
                url = str(httpx.URL(url).join(response.headers["location"]))
                continue
            form = re.search(r'<form[^>]*action="([^"]+)"', response.text)
            assert response.status_code == 200 and form, response.text[:500]
            posted = browser.post(
                str(httpx.URL(url).join(form.group(1))),
                data={"prompt": "login", "login": login, "password": "any"},
            )
            assert posted.status_code in (302, 303), posted.text[:500]
            url = str(httpx.URL(url).join(posted.headers["location"]))
    raise AssertionError("the provider never sent the browser back")
