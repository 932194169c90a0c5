"""Personal token scopes on SQLite and PostgreSQL: a `read` token lists, reads, asks the gate and classifies, and
every operation that changes something refuses it with 403 problem+json naming the scope; `full` (the default,
and every token minted before scopes) does what its person may. The pages take no read token to sign in."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient
from sqlalchemy import create_engine, text

from api.app import create_app
from api.cli import main
from engine.runtime import Runtime, open_runtime, upgrade_database
from tests.support import DEFAULT_POLICY, ManualClock, database_url_for
from tests.web.conftest import Browser

FILING = {"title": "Loosen the code bound", "category": "quality_threshold", "attributes": {"deviation_pct": 3.5}}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_scope_refused(response: Any, method: str, path: str) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == "urn:decision-rights:problem:forbidden"
    assert "has scope read" in body["detail"] and f"{method} {path} needs a token of scope full" in body["detail"]


def test_a_read_token_reads_and_classifies_and_changes_nothing(runtime: Runtime) -> None:
    identity = runtime.service.identity
    mei_full, mei_read = identity.create_token("mei"), identity.create_token("mei", "dashboard", scope="read")
    tomas_read = identity.create_token("tomas", scope="read")
    with TestClient(create_app(runtime, web=False)) as api:
        filed = api.post("/v1/decisions", json=FILING, headers=bearer(mei_full))
        assert filed.status_code == 201, filed.text
        decision = filed.json()["id"]
        for path in ("/v1/decisions", f"/v1/decisions/{decision}", f"/v1/decisions/{decision}/gate", "/v1/me",
                     "/v1/policy"):  # fmt: skip
            assert api.get(path, headers=bearer(mei_read)).status_code == 200, path
        inbox = api.get("/v1/inbox", headers=bearer(tomas_read)).json()["items"]
        assert [i["decision"]["id"] for i in inbox] == [decision]
        classified = api.post("/v1/classify", json=FILING, headers=bearer(mei_read))
        assert classified.status_code == 200 and classified.json()["tier"] == 2

        assert_scope_refused(api.post("/v1/decisions", json=FILING, headers=bearer(mei_read)), "POST", "/v1/decisions")
        approvals = f"/v1/decisions/{decision}/approvals"
        vote = api.post(approvals, json={"verdict": "approve"}, headers=bearer(tomas_read))
        assert_scope_refused(vote, "POST", approvals)
        comments = f"/v1/decisions/{decision}/comments"
        assert_scope_refused(api.post(comments, json={"text": "hm"}, headers=bearer(mei_read)), "POST", comments)
        withdraw = f"/v1/decisions/{decision}/withdraw"
        pulled = api.post(withdraw, json={"reason": "never mind"}, headers=bearer(mei_read))
        assert_scope_refused(pulled, "POST", withdraw)
        # Nothing changed: still pending, no vote, no comment.
        shown = api.get(f"/v1/decisions/{decision}", headers=bearer(mei_read)).json()
        assert shown["status"] == "pending"
        assert [e["type"] for e in shown["events"]] == ["decision_filed"]
        # The person's roles still apply first to a full token; the scope only ever takes away.
        assert api.post(approvals, json={"verdict": "approve"}, headers=bearer(identity.create_token("tomas"))).json()[
            "status"
        ] == "approved"  # fmt: skip


def test_every_route_that_changes_something_refuses_a_read_token(runtime: Runtime) -> None:
    """Walks the app: each non-GET route under /v1, except the classify dry run, answers a read token 403
    before doing anything (the body need not even be valid)."""
    adm_read = runtime.service.identity.create_token("adm", scope="read")
    app = create_app(runtime, web=False)
    writes = sorted(
        (method, route.path.replace("{decision_id:str}", "d-1").replace("{delegation_id:str}", "g-1"))
        for route in app.routes
        if route.path.startswith("/v1/")
        for handler in route.route_handlers  # type: ignore[attr-defined]
        for method in handler.http_methods
        if method not in ("GET", "HEAD", "OPTIONS") and not handler.opt.get("changes_nothing")
    )
    assert ("POST", "/v1/policy/reload") in writes and ("DELETE", "/v1/delegations/g-1") in writes
    with TestClient(app) as api:
        for method, path in writes:
            response = api.request(method, path, json={}, headers=bearer(adm_read))
            assert_scope_refused(response, method, path)


def test_the_sign_in_page_refuses_a_read_token_and_takes_a_full_one(runtime: Runtime) -> None:
    read = runtime.service.identity.create_token("tomas", scope="read")
    full = runtime.service.identity.create_token("tomas")
    with TestClient(create_app(runtime)) as client:
        browser = Browser(client, {})

        def sign_in(token: str) -> Any:
            form = {"token": token, "next": "/inbox", "_csrf_token": browser.csrf("/login")}
            return client.post("/login", data=form, follow_redirects=False)

        refused = sign_in(read)
        assert refused.status_code == 403
        assert "read-only (scope read)" in refused.text
        assert client.get("/inbox", follow_redirects=False).status_code == 303  # no session began
        signed_in = sign_in(full)
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/inbox"
        assert client.get("/inbox").status_code == 200


def test_token_create_takes_a_scope_and_list_shows_it_with_the_expiry(database_url: str) -> None:
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(main, ["--database-url", database_url, "--policy", str(DEFAULT_POLICY), *args])

    made = run("token", "create", "ann", "--label", "grafana", "--scope", "read", "--expires", "30d")
    assert made.exit_code == 0, made.output
    assert "scope read" in made.stderr and "expires" in made.stderr
    assert run("token", "create", "ann", "--label", "laptop").exit_code == 0
    wrong = run("token", "create", "ann", "--scope", "write")
    assert wrong.exit_code == 2 and "'write' is not one of 'read', 'full'" in wrong.output
    lines = run("token", "list", "ann").stdout.strip().splitlines()
    assert lines[0].split() == ["ID", "PERSON", "LABEL", "SCOPE", "CREATED", "LAST", "USED", "EXPIRES", "STATE"]
    rows = {line.split()[2]: line.split() for line in lines[1:]}
    assert rows["grafana"][3] == "read" and rows["grafana"][-2] == "UTC" and rows["grafana"][-1] == "live"
    assert rows["laptop"][3] == "full" and rows["laptop"][-2:] == ["-", "live"]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_tokens_minted_before_scopes_keep_doing_what_they_did(backend: str, tmp_path: Path) -> None:
    with database_url_for(backend, tmp_path) as url:
        upgrade_database(url, "0013_read_indexes")
        rt = open_runtime(url, str(DEFAULT_POLICY), clock=ManualClock())  # before 0015: no scope column yet
        rt.close()
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO api_tokens (id, person, secret_hash, label, created_at) "
                    "VALUES ('0123456789abcdef', 'mei', :hash, 'old', :now)"
                ),
                {"hash": hashlib.sha256(b"old-secret").hexdigest(), "now": "2026-01-01 00:00:00+00:00"},
            )
        engine.dispose()
        upgrade_database(url)
        rt = open_runtime(url, str(DEFAULT_POLICY), clock=ManualClock())
        try:
            [old] = rt.service.identity.list_tokens("mei")
            assert old.scope == "full"
            holder = rt.service.identity.holder("drt_0123456789abcdef_old-secret")
            assert holder is not None and holder.scope == "full"
        finally:
            rt.close()
