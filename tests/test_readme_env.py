"""Every environment variable the code reads is documented in README.md by its full name."""

from __future__ import annotations

import re

from tests.support import REPO

VARIABLE = re.compile(r"\bDECISIONS_[A-Z][A-Z0-9_]*[A-Z0-9]\b")


def test_every_environment_variable_the_code_reads_is_in_the_readme() -> None:
    read: set[str] = set()
    for package in ("api", "engine", "policy"):
        for path in (REPO / package).rglob("*.py"):
            read |= set(VARIABLE.findall(path.read_text()))
    documented = set(VARIABLE.findall((REPO / "README.md").read_text()))
    assert read, "the scan found no variables at all"
    assert sorted(read - documented) == []
