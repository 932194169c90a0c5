"""The served app keeps the collector off what lives as long as the process (api/heap.py)."""

from __future__ import annotations

import gc

from litestar.testing import TestClient

from api.app import create_app
from engine.runtime import Runtime


def test_the_served_app_freezes_what_start_up_left_alive_and_still_serves(runtime: Runtime) -> None:
    before = gc.get_freeze_count()
    try:
        with TestClient(create_app(runtime, freeze_heap=True)) as client:
            assert gc.get_freeze_count() > before  # the runtime, the app and its tables are out of the scans
            assert client.get("/healthz").status_code == 200
    finally:
        gc.unfreeze()  # give the test process its collector back


def test_apps_built_for_tests_leave_the_collector_alone(runtime: Runtime) -> None:
    before = gc.get_freeze_count()
    with TestClient(create_app(runtime)) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() == before
