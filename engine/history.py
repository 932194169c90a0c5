"""Past decisions to replay in a policy simulation: from the log, or imported from CSV/JSONL."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec


@dataclass(frozen=True, slots=True)
class HistoricalDecision:
    id: str
    filed_at: datetime
    category: str
    attributes: Mapping[str, Any]
    tier: int
    filed_by: str | None = None
    squad: str | None = None


class HistoryError(ValueError):
    """A row of an imported history that cannot be read; names the file and line."""


def from_event_rows(rows: Iterable[Mapping[str, Any]]) -> Iterator[HistoricalDecision]:
    """The filed decisions of the log (rows with a `type` and a `body` as stored)."""
    for row in rows:
        if row["type"] != "decision_filed":
            continue
        body = msgspec.json.decode(row["body"])
        data = body["data"]
        yield HistoricalDecision(
            id=body["decision_id"],
            filed_at=datetime.strptime(body["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC),
            category=data["category"],
            attributes=data["attributes"],
            tier=data["tier"],
            filed_by=body["actor"],
            squad=data["squad"],
        )


def _parse_time(text: str, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise HistoryError(f"{where}: filed_at {text!r} is not an ISO 8601 time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _record(raw: Mapping[str, Any], where: str) -> HistoricalDecision:
    missing = [k for k in ("id", "filed_at", "category", "tier") if raw.get(k) in (None, "")]
    if missing:
        raise HistoryError(f"{where}: missing {', '.join(missing)}")
    attributes = raw.get("attributes") or {}
    if isinstance(attributes, str):
        try:
            attributes = json.loads(attributes)
        except ValueError as exc:
            raise HistoryError(f"{where}: attributes is not JSON: {exc}") from exc
    extra = {k[5:]: v for k, v in raw.items() if isinstance(k, str) and k.startswith("attr.") and v not in (None, "")}
    for key, value in extra.items():
        try:
            attributes[key] = json.loads(value) if isinstance(value, str) else value
        except ValueError:
            attributes[key] = value
    try:
        tier = int(raw["tier"])
    except (TypeError, ValueError) as exc:
        raise HistoryError(f"{where}: tier {raw['tier']!r} is not 1, 2 or 3") from exc
    if tier not in (1, 2, 3) or not isinstance(attributes, dict):
        raise HistoryError(f"{where}: tier must be 1, 2 or 3 and attributes an object")
    return HistoricalDecision(
        id=str(raw["id"]),
        filed_at=_parse_time(str(raw["filed_at"]), where),
        category=str(raw["category"]),
        attributes=attributes,
        tier=tier,
        filed_by=raw.get("filed_by") or None,
        squad=raw.get("squad") or None,
    )


def from_file(path: Path, progress: Callable[[int], None] | None = None) -> Iterator[HistoricalDecision]:
    """CSV (columns id, filed_at, category, tier, filed_by, squad, attributes as JSON and/or attr.<name>)
    or JSONL (one object per line with the same keys)."""
    with path.open(encoding="utf-8", newline="") as handle:
        if path.suffix.lower() == ".csv":
            for n, row in enumerate(csv.DictReader(handle), start=2):
                yield _record(row, f"{path}:{n}")
                if progress and n % 10000 == 0:
                    progress(n)
        else:
            for n, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    raw = json.loads(line)
                except ValueError as exc:
                    raise HistoryError(f"{path}:{n}: not JSON: {exc}") from exc
                yield _record(raw, f"{path}:{n}")
                if progress and n % 10000 == 0:
                    progress(n)
