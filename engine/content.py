"""What an approval binds to: a hash of the decision's content and tier (pure)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from engine.log.canonical import canonical_bytes

#: A change to any of these makes earlier approvals stop counting (unless the policy declares an
#: attribute immaterial). For `policy` decisions the candidate version is among the attributes.
CONTENT_KEYS = ("title", "category", "attributes", "rationale", "client", "links", "supersedes", "tier")


def content_hash(content: Mapping[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON of the content keys, as logged in approval events."""
    return hashlib.sha256(canonical_bytes({k: content.get(k) for k in CONTENT_KEYS})).hexdigest()
