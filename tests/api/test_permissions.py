"""Who may call what: every role against every route, and routes that forget their roles."""

from __future__ import annotations

from typing import Any

import pytest

from api.app import create_app
from tests.api.conftest import Api

ROLE_OF = {"mei": "squad_member", "tomas": "tech_pm", "dana": "director", "ann": "auditor", "adm": "admin"}

# route -> the people allowed (by role); everyone else authenticated gets 403.
MATRIX: dict[str, set[str]] = {
    "file": {"mei", "tomas", "dana", "adm"},
    "classify": {"mei", "tomas", "dana", "ann", "adm"},
    "list": {"mei", "tomas", "dana", "ann", "adm"},
    "get": {"mei", "tomas", "dana", "ann", "adm"},
    "approve": {"mei", "tomas", "dana", "adm"},  # the service refuses non-approvers on the merits
    "withdraw": {"mei", "tomas", "dana", "adm"},
    "inbox": {"mei", "tomas", "dana", "adm"},
    "amend": {"mei", "tomas", "dana", "adm"},
    "comment": {"mei", "tomas", "dana", "adm"},
    "proceed": {"mei", "tomas", "dana", "adm"},
    "delegate": {"tomas", "dana"},
    "delegations": {"mei", "tomas", "dana", "adm"},
    "policy": {"mei", "tomas", "dana", "ann", "adm"},
    "versions": {"mei", "tomas", "dana", "ann", "adm"},
    "verify": {"ann", "adm"},
    "export": {"ann"},
    "reload": {"adm"},
}


def _call(api: Api, route: str, who: str | None, decision_id: str) -> Any:
    body = {"title": "t", "category": "pipeline", "attributes": {"risk_score": 50}}
    calls = {
        "file": lambda: api.post("/v1/decisions", who, body),
        "classify": lambda: api.post("/v1/classify", who, body),
        "list": lambda: api.get("/v1/decisions", who),
        "get": lambda: api.get(f"/v1/decisions/{decision_id}", who),
        "approve": lambda: api.post(
            f"/v1/decisions/{decision_id}/approvals", who, {"verdict": "reject", "reason": "x"}
        ),
        "withdraw": lambda: api.post(f"/v1/decisions/{decision_id}/withdraw", who, {}),
        "inbox": lambda: api.get("/v1/inbox", who),
        "amend": lambda: api.post(f"/v1/decisions/{decision_id}/amend", who, {"title": "t2"}),
        "comment": lambda: api.post(f"/v1/decisions/{decision_id}/comments", who, {"text": "hello"}),
        "proceed": lambda: api.post(f"/v1/decisions/{decision_id}/proceed", who, {"reason": "harm"}),
        "delegate": lambda: api.post(
            "/v1/delegations",
            who,
            {
                "delegate": "ravi",
                "role": "tech_pm",
                "starts_at": "2026-01-01T00:00:00Z",
                "ends_at": "2099-01-01T00:00:00Z",
            },
        ),
        "delegations": lambda: api.get("/v1/delegations", who),
        "policy": lambda: api.get("/v1/policy", who),
        "versions": lambda: api.get("/v1/policy/versions", who),
        "verify": lambda: api.get("/v1/log/verify", who),
        "export": lambda: api.get("/v1/log/export", who),
        "reload": lambda: api.post("/v1/policy/reload", who),
    }
    return calls[route]()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("route", list(MATRIX))
def test_role_by_route(api: Api, route: str) -> None:
    for who in [None, *ROLE_OF]:
        decision_id = api.file("jon", "pipeline", {"risk_score": 60})["id"]
        response = _call(api, route, who, decision_id)
        if who is None:
            assert response.status_code == 401, (route, who)
            assert response.headers["www-authenticate"].startswith("Bearer")
        elif who in MATRIX[route]:
            # Allowed by role; the service may still refuse on the merits (not the filer, wrong tier)
            # with 403, but never with the role guard's refusal.
            assert response.status_code < 400 or (
                response.status_code == 403 and "needs one of" not in response.json()["detail"]
            ), (route, who, response.text)
        else:
            assert response.status_code == 403, (route, who, response.text)
            assert ROLE_OF[who] in response.json()["detail"]
        assert response.headers["content-type"].split(";")[0] in {
            "application/json",
            "application/problem+json",
            "application/x-ndjson",
        }


def test_a_bad_token_is_401(api: Api) -> None:
    for header in ["Bearer drt_0000000000000000_nope", "Bearer nonsense", "Basic abc", "Bearer "]:
        r = api.client.get("/v1/decisions", headers={"Authorization": header})
        assert r.status_code == 401, header
        assert r.json()["status"] == 401


def test_revoked_tokens_stop_working(api: Api) -> None:
    assert api.get("/v1/me", "mei").json()["name"] == "mei"
    api.runtime.service.revoke_tokens("mei")
    assert api.get("/v1/me", "mei").status_code == 401


def test_tokens_are_stored_hashed(api: Api) -> None:
    from sqlalchemy import text

    with api.runtime.service.engine.connect() as conn:
        stored = [r[0] for r in conn.execute(text("SELECT secret_hash FROM api_tokens"))]
    for token in api.tokens.values():
        secret = token.split("_", 2)[2]
        assert all(secret not in h for h in stored)


def test_every_api_route_declares_its_roles() -> None:
    app = create_app()
    for route in app.routes:
        for handler in route.route_handlers:  # type: ignore[attr-defined]
            if set(getattr(handler, "http_methods", ())) == {"OPTIONS"}:
                continue  # Litestar's automatic CORS preflight handler
            if route.path.startswith(("/schema", "/healthz", "/readyz", "/static", "/metrics")) or route.path in (
                "/login",
                "/logout",
                "/login/oidc",
                "/login/oidc/callback",
                "/slack/interactions",
            ):
                continue  # public by design: docs, probes, assets, sign-in; Slack signs its requests instead
            roles = handler.opt.get("roles")
            assert roles, f"{route.path} declares no roles"


def test_a_service_account_reaches_classify_reading_and_the_gate_only() -> None:
    """The `service` role's whole reach, from every route's declared roles: a route given to
    everyone (people) instead of READERS would drop out of this list, a wider one would join it."""
    from policy.identity import SERVICE_ROLE

    reachable = {
        (method, route.path)
        for route in create_app().routes
        for handler in route.route_handlers  # type: ignore[attr-defined]
        if SERVICE_ROLE in (handler.opt.get("roles") or ())
        for method in handler.http_methods
    }
    assert reachable == {
        ("POST", "/v1/classify"),
        ("GET", "/v1/decisions"),
        ("GET", "/v1/decisions/{decision_id:str}"),
        ("GET", "/v1/decisions/{decision_id:str}/gate"),
        # The flat CSV export is the list in another format: reading, with the list's filters.
        ("GET", "/v1/decisions/export"),
        ("GET", "/v1/me"),
    }
