"""Settings from the environment (the design doc's names)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from engine.runtime import DEFAULT_POLICY_PATH
from engine.store.db import DEFAULT_DATABASE_URL


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    policy_path: str = DEFAULT_POLICY_PATH

    @classmethod
    def from_env(cls) -> Settings:
        port = os.environ.get("DECISIONS_PORT") or "8000"
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"DECISIONS_PORT must be a TCP port number, not {port!r}")
        return cls(
            database_url=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            host=os.environ.get("DECISIONS_HOST") or "127.0.0.1",
            port=int(port),
            policy_path=os.environ.get("DECISIONS_POLICY") or DEFAULT_POLICY_PATH,
        )
