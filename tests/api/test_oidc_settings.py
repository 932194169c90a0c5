"""Every OpenID Connect setting the code reads is documented in the README by its full name."""

from __future__ import annotations

import re

from tests.support import REPO


def test_the_readme_documents_every_oidc_setting() -> None:
    code = "".join(p.read_text() for p in (REPO / "api" / "oidc").glob("*.py"))
    read = set(re.findall(r"\bDECISIONS_OIDC_[A-Z_]+\b", code))
    assert read >= {"DECISIONS_OIDC_ISSUER", "DECISIONS_OIDC_CLIENT_ID", "DECISIONS_OIDC_AUDIENCE"}
    readme = (REPO / "README.md").read_text()
    assert sorted(name for name in read if f"`{name}`" not in readme) == []
