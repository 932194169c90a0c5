"""Generate a large, valid log quickly: decisions filed (and half of them approved) straight into SQLite.

Bodies are built with the service's own canonical encoding and chained exactly as the appender
does; the read model rows are the fold of those events. The append-only triggers stay on.
"""

from __future__ import annotations

import random
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.log.canonical import canonical_bytes, leaf_hash, make_body
from engine.log.merkle import frontier_append
from engine.runtime import open_runtime, upgrade_database

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

    for i in range(decisions):
        category, attributes, tier = CATEGORIES[rng.randrange(len(CATEGORIES))]
        decision_id = f"D{i:026d}"
        status = "resolved" if tier == 1 else "pending"
        route = {"tier": tier, "role": None if tier == 1 else ("tech_pm" if tier == 2 else "director"),
                 "roles": [], "count": 0 if tier == 1 else 1, "distinct": "person", "exclude_filer": tier != 1,
                 "approvers": [] if tier == 1 else (["priya", "tomas"] if tier == 2 else ["dana"])}  # fmt: skip
        data = {"title": f"decision {i}", "category": category, "attributes": attributes, "rationale": None,
                "client": None, "links": [], "squad": "nucleus", "tier": tier, "base_tier": tier,
                "known_category": True, "matched_rules": [], "route": route, "status": status,
                "policy_version": policy.version, "supersedes": None}  # fmt: skip
        filed_seq = seq
        append("decision_filed", "mei", decision_id, data, moment)
        decided = None
        # Every escalated decision is signed off, except in the last 0.2% of the history: a backlog.
        if tier > 1 and i < decisions * 0.998:
            at = moment + step / 2
            approver = "tomas" if tier == 2 else "dana"
            append("approval_recorded", approver, decision_id,
                   {"verdict": "approve", "reason": None, "role": route["role"], "squad": None, "on_behalf_of": None,
                    "approvals": [approver], "missing": None, "status": "approved"}, at)  # fmt: skip
            status, decided = "approved", at
        elif tier == 1:
            decided = moment
        rows.append((decision_id, filed_seq, seq - 1, data["title"], category, json.dumps(attributes), "mei",
                     "nucleus", tier, tier, status, json.dumps(route), "[]", 1, "[]", policy.version,
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
