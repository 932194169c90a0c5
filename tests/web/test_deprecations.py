"""The app declares every handler parameter the way Litestar 3 will require (FromPath, FromQuery...): building it
warns of nothing deprecated, so the next major version finds nothing inferred."""

from __future__ import annotations

import warnings

from litestar.exceptions import LitestarDeprecationWarning
from litestar.testing import TestClient

from api.app import create_app
from engine.runtime import Runtime


def test_building_and_starting_the_app_warns_of_nothing_deprecated_in_litestar(sqlite_runtime: Runtime) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with TestClient(create_app(sqlite_runtime)) as client:
            assert client.get("/login").status_code == 200
    deprecated = [str(w.message) for w in caught if issubclass(w.category, LitestarDeprecationWarning)]
    assert deprecated == []
