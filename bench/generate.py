"""Generate a large, valid log quickly: decisions filed (and half of them approved) straight into SQLite.

Bodies are built with the service's own canonical encoding and chained exactly as the appender
does; the read model rows are the fold of those events. The append-only triggers stay on.
"""

from __future__ import annotations

import random
import sqlite3
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.content import CONTENT_KEYS, content_hash
from engine.log.canonical import canonical_bytes, leaf_hash, make_body
from engine.log.merkle import frontier_append
from engine.runtime import open_runtime, upgrade_database
from policy.compiled import Policy

CATEGORIES = [
    ("quality_threshold", {"deviation_pct": 1.5, "affected_clients": 1}, 1),
    ("quality_threshold", {"deviation_pct": 3.5, "affected_clients": 1}, 2),
    ("pipeline", {"risk_score": 80}, 2),
    ("reporting_format", {}, 1),
    ("contract", {"change": "scope"}, 3),
]


def generate(path: Path, decisions: int, start: datetime | None = None, span_days: int = 3650) -> int:
    """A database at `path` with `decisions` filed over `span_days`; returns the number of events."""
    url = f"sqlite:///{path}"
    upgrade_database(url)
    moment = start or datetime(2017, 1, 2, 17, tzinfo=UTC)
    bootstrap_at = moment - timedelta(days=1)
    rt = open_runtime(url, "policies.yaml", clock=lambda: bootstrap_at)  # bootstraps the policy: seq 0
    policy = rt.policies.current
    origin = rt.service.origin
    rt.close()
    rng = random.Random(7)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")  # generation only; the measured paths use the service's settings
    (
        seq,
        prev,
    ) = conn.execute("SELECT size, head_hash FROM log_head").fetchone()
    frontier_hex = conn.execute("SELECT frontier FROM log_head").fetchone()[0]
    import json

    frontier = [bytes.fromhex(h) for h in json.loads(frontier_hex)]
    step = timedelta(days=span_days) / max(decisions, 1)
    events: list[tuple] = []  # type: ignore[type-arg]
    rows: list[tuple] = []  # type: ignore[type-arg]
    started = time.perf_counter()

    def append(kind: str, actor: str, decision_id: str, data: dict, at: datetime) -> None:  # type: ignore[type-arg]
        nonlocal seq, prev, frontier
        body = make_body(origin=origin, seq=seq, prev=prev, type=kind, actor=actor, at=at, decision_id=decision_id,
                         data=data)  # fmt: skip
        raw = canonical_bytes(body)
        leaf = leaf_hash(raw)
        stamp = at.strftime("%Y-%m-%d %H:%M:%S.%f")
        events.append((seq, raw.decode(), leaf.hex(), prev, decision_id, kind, actor, stamp))
        frontier = frontier_append(frontier, seq, leaf)
        seq, prev = seq + 1, leaf.hex()

    # Each kind of decision is filed and approved once through the rules (engine.lifecycle.decide), so
    # the generated log is one the replay audit accepts; per decision only the title, and with it the
    # content hash its approval binds to, change.
    templates = [_template(policy, category, attributes, moment) for category, attributes, _ in CATEGORIES]
    for i in range(decisions):
        template = templates[rng.randrange(len(templates))]
        category, tier = template.filed["category"], template.filed["tier"]
        decision_id = f"D{i:026d}"
        data = {**template.filed, "title": f"decision {i}"}
        route, status = data["route"], data["status"]
        filed_seq = seq
        append("decision_filed", "mei", decision_id, data, moment)
        decided = None
        # Every escalated decision is signed off, except in the last 0.2% of the history: a backlog.
        if template.approval is not None and i < decisions * 0.998:
            at = moment + step / 2
            approver, approval = template.approval
            content = {k: data.get(k) for k in CONTENT_KEYS}
            append("approval_recorded", approver, decision_id, {**approval, "content_hash": content_hash(content)}, at)
            status, decided = "approved", at
        elif tier == 1:
            decided = moment
        rows.append((decision_id, filed_seq, seq - 1, data["title"], category, json.dumps(data["attributes"]), "mei",
                     "nucleus", tier, data["base_tier"], status, json.dumps(route), json.dumps(data["matched_rules"]),
                     1, "[]", policy.version,
                     moment.strftime("%Y-%m-%d %H:%M:%S.%f"), moment.strftime("%Y-%m-%d %H:%M:%S.%f"),
                     decided.strftime("%Y-%m-%d %H:%M:%S.%f") if decided else None, 0))  # fmt: skip
        moment += step
        if len(events) >= 50_000:
            _flush(conn, events, rows)
            print(f"\rgenerating: {i + 1:,} decisions", end="", file=sys.stderr)
    _flush(conn, events, rows)
    conn.execute("UPDATE log_head SET size = ?, head_hash = ?, frontier = ?",
                 (seq, prev, json.dumps([f.hex() for f in frontier])))  # fmt: skip
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    print(f"\rgenerated {decisions:,} decisions, {seq:,} events in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)  # fmt: skip
    return int(seq)


@dataclass(frozen=True)
class _Template:
    #: The decision_filed data the rules give (title aside).
    filed: dict[str, Any]
    #: Who approves it and the approval_recorded data the rules give (content hash aside); None for tier 1.
    approval: tuple[str, dict[str, Any]] | None


def _template(policy: Policy, category: str, attributes: dict[str, Any], moment: datetime) -> _Template:
    from engine.lifecycle import Authority, File, GiveVerdict, decide, state_of
    from engine.read_model import fold

    people = policy.people
    authority = Authority(policy=policy, now=moment)
    command = File(title="decision 0", category=category, attributes=attributes)
    [filed] = decide(command, people["mei"], authority, decision_id="D0").events
    if filed.data["status"] == "resolved":
        return _Template(filed.data, None)
    approver = "tomas" if filed.data["tier"] == 2 else "dana"
    body = {"type": filed.type, "seq": 0, "at": "2017-01-02T17:00:00.000000Z", "decision_id": "D0",
            "actor": "mei", "data": filed.data}  # fmt: skip
    state = state_of(fold(None, body))  # type: ignore[arg-type]
    [approval] = decide(GiveVerdict(verdict="approve"), people[approver], authority, state=state).events
    assert approval.data["status"] == "approved", approval
    return _Template(filed.data, (approver, approval.data))


def _flush(conn: sqlite3.Connection, events: list, rows: list) -> None:  # type: ignore[type-arg]
    conn.executemany(
        "INSERT INTO events (seq, body, leaf_hash, prev_hash, decision_id, type, actor, at) VALUES (?,?,?,?,?,?,?,?)",
        events,
    )
    conn.executemany(
        "INSERT INTO decisions (id, filed_seq, last_seq, title, category, attributes, filed_by, squad, tier, "
        "base_tier, status, route, matched_rules, known_category, approvals, policy_version, created_at, "
        "updated_at, decided_at, amendments, links) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,'[]')",
        rows,
    )
    conn.commit()
    events.clear()
    rows.clear()
