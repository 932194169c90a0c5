"""The pre-adoption baseline: an organisation's record of who decided what before decision rights
were written down (a spreadsheet, a ticket export), read from CSV or JSONL (pure but for reading).

It is not a decision made under the policy, so it is stored apart from the log; one logged event
(`baseline_imported`) carries the digest of exactly these rows, so every figure derived from them
is traceable to what was imported.

Columns (CSV header or JSONL keys): `date` (YYYY-MM-DD, the day it was decided), `kind` (a
category of the policy or free text; `category` is accepted too), `decided_by` (director,
tech_pm, squad, or a person of the policy's directory), optionally `waited_days` (how long it
waited for the decision, in days; `waited_hours` is accepted too).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from engine.log.canonical import canonical_bytes
from policy.compiled import Policy

#: Who decided, as the three tiers of authority.
DECIDER_TIERS = {"director": 3, "tech_pm": 2, "squad": 1, "squad_member": 1}
MAX_ERRORS = 20


@dataclass(frozen=True, slots=True)
class BaselineItem:
    line: int
    day: date
    kind: str
    decided_by: str
    tier: int
    waited_days: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "day": self.day.isoformat(),
            "kind": self.kind,
            "decided_by": self.decided_by,
            "tier": self.tier,
            "waited_days": self.waited_days,
        }


class BaselineInvalid(ValueError):
    """Every bad row, each as `FILE:LINE: what is wrong`; nothing is imported."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        more = "" if len(problems) <= MAX_ERRORS else f"\n... and {len(problems) - MAX_ERRORS} more"
        super().__init__("\n".join(problems[:MAX_ERRORS]) + more)


def digest(items: list[BaselineItem]) -> str:
    """sha256 of the canonical JSON of the rows as imported: what the log's event vouches for."""
    return hashlib.sha256(canonical_bytes({"rows": [i.as_dict() for i in items]})).hexdigest()


def _decider_tier(value: str, policy: Policy) -> int | None:
    key = value.strip().lower().replace("-", "_").replace(" ", "_")
    if key in DECIDER_TIERS:
        return DECIDER_TIERS[key]
    person = policy.people.get(value.strip())
    if person is None:
        return None
    if "director" in person.roles:
        return 3
    if "tech_pm" in person.roles:
        return 2
    return 1


def _number(raw: Any) -> float | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        raise ValueError(raw)
    value = float(raw)
    if value != value or value < 0 or value > 3650:  # NaN, negative, more than ten years
        raise ValueError(raw)
    return value


def _item(raw: Mapping[str, Any], where: str, line: int, policy: Policy, problems: list[str]) -> BaselineItem | None:
    before = len(problems)
    day_text = str(raw.get("date") or "").strip()
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        problems.append(f"{where}:{line}: date {day_text!r} is not a day (YYYY-MM-DD)")
        day = None
    kind = str(raw.get("kind") or raw.get("category") or "").strip()
    if not kind:
        problems.append(f"{where}:{line}: kind is empty (a category of the policy, or a few words)")
    elif len(kind) > 200 or not kind.isprintable():
        problems.append(f"{where}:{line}: kind must be at most 200 printable characters")
    decided_by = str(raw.get("decided_by") or "").strip()
    tier = _decider_tier(decided_by, policy) if decided_by else None
    if tier is None:
        problems.append(
            f"{where}:{line}: decided_by {decided_by!r} is not director, tech_pm, squad or a person of the directory"
        )
    waited: float | None = None
    try:
        if raw.get("waited_days") not in (None, ""):
            waited = _number(raw.get("waited_days"))
        elif raw.get("waited_hours") not in (None, ""):
            hours = _number(raw.get("waited_hours"))
            waited = None if hours is None else hours / 24
    except (TypeError, ValueError):
        problems.append(f"{where}:{line}: waited_days must be a number of days from 0 to 3650")
    if len(problems) > before or day is None or tier is None:
        return None
    return BaselineItem(line, day, kind, decided_by, tier, waited)


def _rows(text: str, name: str) -> Iterator[tuple[int, Mapping[str, Any] | None, str | None]]:
    if name.lower().endswith((".jsonl", ".ndjson", ".json")):
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                yield n, None, f"not JSON: {exc.msg}"
                continue
            yield (n, raw, None) if isinstance(raw, dict) else (n, None, "each line must be a JSON object")
        return
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames is None or "date" not in reader.fieldnames or "decided_by" not in reader.fieldnames:
        yield 1, None, "the header must name date, kind and decided_by (and optionally waited_days)"
        return
    for raw in reader:
        yield reader.line_num, raw, None


def parse(text: str, name: str, policy: Policy) -> list[BaselineItem]:
    """Every row, or BaselineInvalid naming every bad one by line (nothing half-imported)."""
    problems: list[str] = []
    items: list[BaselineItem] = []
    for line, raw, error in _rows(text, name):
        if error is not None or raw is None:
            problems.append(f"{name}:{line}: {error}")
            continue
        item = _item(raw, name, line, policy, problems)
        if item is not None:
            items.append(item)
    if not items and not problems:
        problems.append(f"{name}: no rows")
    if problems:
        raise BaselineInvalid(problems)
    return items


def read(path: Path, policy: Policy) -> list[BaselineItem]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BaselineInvalid([f"{path}: not UTF-8 text ({exc.reason})"]) from exc
    except OSError as exc:
        raise BaselineInvalid([f"{path}: cannot read it ({exc.strerror})"]) from exc
    return parse(text, str(path), policy)
