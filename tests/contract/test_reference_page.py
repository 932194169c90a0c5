"""/schema is the API reference page, built from files the package ships: nothing from a CDN."""

from __future__ import annotations

import re
import urllib.request

from api.reference import SWAGGER_UI_VERSION
from tests.contract.conftest import NODE_DIR, Live
from tests.support import REPO

VENDORED = REPO / "api" / "web" / "static" / "swagger-ui"


def _get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers["content-type"], response.read()


def test_the_reference_page_loads_only_local_assets(live: Live) -> None:
    status, media, body = _get(live.url + "/schema")
    assert status == 200 and media.startswith("text/html")
    page = body.decode()
    assert not re.search(r"https?://", page), page  # no CDN, no remote favicon or fonts
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sorted(assets) == [
        "/static/swagger-ui/init.js",
        "/static/swagger-ui/swagger-ui-bundle.js",
        "/static/swagger-ui/swagger-ui.css",
    ]
    for asset in assets:
        status, media, body = _get(live.url + asset)
        assert status == 200 and body, asset
        expected = ("text/css",) if asset.endswith(".css") else ("text/javascript", "application/javascript")
        assert media.startswith(expected), (asset, media)
    assert 'data-url="/schema/openapi.json"' in page


def test_the_vendored_swagger_ui_is_the_npm_package_byte_for_byte(node_bin: object) -> None:
    package = NODE_DIR / "node_modules" / "swagger-ui-dist"
    assert f'"version": "{SWAGGER_UI_VERSION}"' in (package / "package.json").read_text()
    for name in ["swagger-ui-bundle.js", "swagger-ui-bundle.js.LICENSE.txt", "swagger-ui.css", "LICENSE", "NOTICE"]:
        assert (VENDORED / name).read_bytes() == (package / name).read_bytes(), name
