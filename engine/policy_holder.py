"""Holds the active policy; a reload that fails keeps the last good one."""

from __future__ import annotations

import threading
from pathlib import Path

from policy import load_policy
from policy.compiled import Policy


class PolicyHolder:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._current = load_policy(self.path)

    @property
    def current(self) -> Policy:
        # One attribute read: a request sees one whole policy, never a mix of two.
        return self._current

    def reload(self) -> Policy:
        """Load the file again; on any PolicyLoadError the running policy stays active."""
        with self._lock:
            candidate = load_policy(self.path)
            self._current = candidate
            return candidate

    def replace(self, policy: Policy) -> None:
        with self._lock:
            self._current = policy
