"""Seeding helpers: file decisions at chosen local times in the policy's timezone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from engine.runtime import Runtime
from engine.types import FilingRequest
from tests.support import ManualClock

LA = ZoneInfo("America/Los_Angeles")


def at_local(clock: ManualClock, local: str) -> datetime:
    """Move the clock to a wall time in Los Angeles (the default policy's zone)."""
    clock.now = datetime.fromisoformat(local).replace(tzinfo=LA).astimezone(UTC)
    return clock.now


def file(rt: Runtime, who: str, category: str, attributes: dict[str, Any], title: str = "a decision") -> str:
    person = rt.policies.current.people[who]
    request = FilingRequest(title=title, category=category, attributes=attributes)
    return rt.service.file(person, request).decision.id
