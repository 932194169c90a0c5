"""The web pages: a Router, its template engine, static files and CSRF, for create_app (sessions: api.web.session)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Router
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from api.web.auth import forbidden_page, login_redirect, not_found_page, web_authorize
from api.web.effect_page import EffectPage
from api.web.oidc import OidcSignIn
from api.web.pages import Pages, SignIn
from api.web.session import csrf_config
from api.web.steps import Steps

HERE = Path(__file__).parent


def web_components(state_dir: Path, secure_cookies: bool, extra_pages: list[Any] | None = None) -> dict[str, Any]:
    """Litestar keyword arguments (route handlers, middleware, CSRF, templates) for the pages."""
    csrf = csrf_config(state_dir, secure_cookies)
    pages = Router(
        path="/",
        route_handlers=[SignIn, OidcSignIn, Pages, EffectPage, Steps, *(extra_pages or [])],
        guards=[web_authorize],
        exception_handlers={
            NotAuthorizedException: login_redirect,
            PermissionDeniedException: forbidden_page,
            NotFoundException: not_found_page,
        },
        include_in_schema=False,
    )
    static = create_static_files_router(
        path="/static", directories=[HERE / "static"], opt={"public": True}, include_in_schema=False
    )
    return {
        "route_handlers": [pages, static],
        "middleware": [],
        "csrf_config": csrf,
        "template_config": TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine),
    }
