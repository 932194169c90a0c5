"""The API reference page at /schema: Swagger UI from files this package ships, never from a CDN.

The assets are swagger-ui-dist (npm, Apache-2.0; version in SWAGGER_UI_VERSION, its LICENSE and
NOTICE beside it) under api/web/static/swagger-ui, served by the pages' /static route, so the page
works offline and behind a firewall. tests/contract checks the copies against the npm package.
"""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Request
from litestar.openapi.plugins import OpenAPIRenderPlugin

SWAGGER_UI_VERSION = "5.35.0"
ASSETS = "/static/swagger-ui"


class SwaggerUIPage(OpenAPIRenderPlugin):
    def __init__(self) -> None:
        # No favicon link: Litestar's default points at a CDN.
        super().__init__(path=["/swagger"], favicon="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = escape(str(openapi_schema["info"]["title"]))
        spec = escape(self.get_openapi_json_route(request))
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}: API reference</title>
  <link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui" data-url="{spec}"></div>
  <script src="{ASSETS}/swagger-ui-bundle.js"></script>
  <script src="{ASSETS}/init.js"></script>
</body>
</html>
""".encode()
