from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.runtime import Runtime, open_runtime
from tests.legitimacy.policies import write_variant
from tests.support import ManualClock


@pytest.fixture
def open_variant(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Callable[[str], Runtime]]:
    """Open the service on `database_url` under a named policy variant (tests.legitimacy.policies)."""
    opened: list[Runtime] = []

    def open_(name: str) -> Runtime:
        rt = open_runtime(database_url, str(write_variant(tmp_path, name)), clock=clock)
        opened.append(rt)
        return rt

    yield open_
    for rt in opened:
        rt.close()
