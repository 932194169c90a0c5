"""Every DECISIONS_* variable the code reads is in the README under its full name, and the README names no
variable the code does not read; the state directory (signing key, session secret) is ignored by git."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

from tests.support import REPO

PACKAGES = ("api", "engine", "policy", "migrations")
NAME = re.compile(r"DECISIONS_[A-Z0-9_]*[A-Z0-9]")


def read_by_code() -> set[str]:
    """Every string constant in the package sources that is exactly a DECISIONS_* name: an environment lookup
    (os.environ.get("..."), a click envvar=, a module constant handed to one), never prose in a message."""
    names = set()
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and NAME.fullmatch(node.value):
                    names.add(node.value)
    return names


def test_every_variable_read_is_documented_and_every_documented_one_is_read() -> None:
    code = read_by_code()
    documented = set(NAME.findall((REPO / "README.md").read_text(encoding="utf-8")))
    assert "DECISIONS_POLICY" in code and "DECISIONS_SLACK_URL" in code  # the scan sees what it should
    assert sorted(code - documented) == [], "read by the code but not in the README under this full name"
    assert sorted(documented - code) == [], "named in the README but read nowhere"


def test_the_state_directory_is_ignored(tmp_path: Path) -> None:
    candidates = ["decisions.db.state/signing.key", "decisions.db.state/session.secret",
                  "decisions.db.state/last-checkpoint", ".decisions-state/0123456789abcdef/signing.key",
                  "elsewhere/signing.key", "decisions.db"]  # fmt: skip
    found = subprocess.run(["git", "check-ignore", "--no-index", *candidates], cwd=REPO, capture_output=True,
                           text=True, check=False)  # fmt: skip
    assert sorted(found.stdout.split()) == sorted(candidates)
