"""Decision identifiers: ULIDs (time-ordered, 26 Crockford base32 characters)."""

from __future__ import annotations

import os
from datetime import datetime

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_decision_id(moment: datetime) -> str:
    millis = int(moment.timestamp() * 1000)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "D" + "".join(reversed(chars))
