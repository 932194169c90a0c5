"""Generate a large, valid log quickly: decisions filed (and half of them approved) straight into SQLite.

Bodies are built with the service's own canonical encoding and chained exactly as the appender
does; the read model rows are the fold of those events. The append-only triggers stay on.
"""

from __future__ import annotations

import json
import random
import sqlite3
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from engine.content import CONTENT_KEYS, content_hash
from engine.log.canonical import canonical_bytes, format_at, leaf_hash, make_body
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


#: Realistic spreads (bench/read_paths.py): six filers in two squads, categories of every tier.
FILERS = ["mei", "jon", "sofia", "ravi", "lena", "omar"]
SPREAD = [
    ("quality_threshold", {"deviation_pct": 1.5, "affected_clients": 1}, 1),
    ("pipeline", {"risk_score": 12}, 1),
    ("reporting_format", {}, 1),
    ("domain", {"change": "rubric_update", "domain": "safety"}, 1),
    ("quality_threshold", {"deviation_pct": 3.5, "affected_clients": 1}, 2),
    ("pipeline", {"risk_score": 80}, 2),
    ("annotator_tier", {"annotator": "a-1042", "from_tier": "generalist", "to_tier": "specialist"}, 2),
    ("contract", {"change": "scope"}, 3),
    ("benchmark", {"benchmark": "reasoning-suite"}, 3),
    ("client_onboarding", {"client": "acme"}, 3),
]


def generate(
    path: Path,
    decisions: int,
    start: datetime | None = None,
    span_days: int = 3650,
    *,
    end: datetime | None = None,
    filers: list[str] | None = None,
    categories: list[tuple[str, dict[str, Any], int]] | None = None,
    weekly: int | None = None,
    pending_share: float | None = None,
    seed: int = 7,
) -> int:
    """A database at `path` with `decisions` filed over `span_days`; returns the number of events.

    By default one filer (mei) and a backlog of the last 0.2 % of escalated decisions. With
    `filers`, each decision's filer is drawn from them (their squad goes with them); `weekly` files
    at that constant rate instead of spreading over `span_days` (the span then follows); with
    `pending_share`, that share of the tier-2/3 decisions, drawn anywhere in the history, is left
    pending and every other one approved. With `end`, the history is laid out to stop just before it
    (`start` is then ignored): histories of any size then share their last weeks.
    """
    url = f"sqlite:///{path}"
    upgrade_database(url)
    if weekly is not None:
        span_days = max(1, round(decisions / weekly * 7))
    moment = start or datetime(2017, 1, 2, 17, tzinfo=UTC)
    if end is not None:
        moment = end - timedelta(days=span_days)
    bootstrap_at = moment - timedelta(days=1)
    rt = open_runtime(url, "policies.yaml", clock=lambda: bootstrap_at)  # bootstraps the policy: seq 0
    policy = rt.policies.current
    origin = rt.service.origin
    rt.close()
    rng = random.Random(seed)
    filers = filers or ["mei"]
    kinds = categories or CATEGORIES
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")  # generation only; the measured paths use the service's settings
    conn.execute("PRAGMA cache_size=-262144")  # 256 MB: the indexes of a million decisions stay in memory
    # The per-row append guard (next seq, unused hashes) holds by construction here: seq and prev
    # come from the chain built below. It is dropped for the bulk load and installed again after it.
    conn.execute("DROP TRIGGER IF EXISTS events_append_only_insert")
    (
        seq,
        prev,
    ) = conn.execute("SELECT size, head_hash FROM log_head").fetchone()
    frontier_hex = conn.execute("SELECT frontier FROM log_head").fetchone()[0]

    frontier = [bytes.fromhex(h) for h in json.loads(frontier_hex)]
    step = timedelta(days=span_days) / max(decisions, 1)
    events: list[tuple] = []  # type: ignore[type-arg]
    rows: list[tuple] = []  # type: ignore[type-arg]
    started = time.perf_counter()

    origin_json = json.dumps(origin, ensure_ascii=False)

    def append(kind: str, actor: str, decision_id: str, data: dict, at: datetime, data_json: str) -> None:  # type: ignore[type-arg]
        """`data_json`: the canonical JSON of `data`, spliced from the template's (see _spliced). The
        body is written key by key in sorted order as canonical_bytes would, and checked against
        canonical_bytes itself for the first events and then every 10,007th."""
        nonlocal seq, prev, frontier
        stamp_at = (f"{at.year:04d}-{at.month:02d}-{at.day:02d}T{at.hour:02d}:{at.minute:02d}:{at.second:02d}."
                    f"{at.microsecond:06d}Z")  # fmt: skip
        text = (f'{{"actor":"{actor}","at":"{stamp_at}","data":{data_json},"decision_id":"{decision_id}",'
                f'"log":{origin_json},"prev":"{prev}","seq":{seq},"type":"{kind}","v":1}}')  # fmt: skip
        raw = text.encode()
        if seq < 2000 or seq % 10_007 == 0:
            body = make_body(origin=origin, seq=seq, prev=prev, type=kind, actor=actor, at=at,
                             decision_id=decision_id, data=data)  # fmt: skip
            assert raw == canonical_bytes(body), (raw, canonical_bytes(body))
        leaf = leaf_hash(raw)
        stamp = f"{stamp_at[:10]} {stamp_at[11:26]}"
        events.append((seq, text, leaf.hex(), prev, decision_id, kind, actor, stamp))
        frontier = frontier_append(frontier, seq, leaf)
        seq, prev = seq + 1, leaf.hex()

    # Each kind of decision is filed and approved once through the rules (engine.lifecycle.decide), so
    # the generated log is one the replay audit accepts; per decision only the title, and with it the
    # content hash its approval binds to, change.
    templates = {
        (filer, k): _template(policy, category, attributes, moment, filer)
        for filer in filers
        for k, (category, attributes, _) in enumerate(kinds)
    }
    for i in range(decisions):
        filer = filers[rng.randrange(len(filers))]
        template = templates[(filer, rng.randrange(len(kinds)))]
        category, tier = template.filed["category"], template.filed["tier"]
        decision_id = f"D{i:026d}"
        title = f"decision {i}"
        data = {**template.filed, "title": title}
        status = data["status"]
        filed_seq = seq
        append("decision_filed", filer, decision_id, data, moment, template.filed_json.replace(TITLE, title))
        decided = None
        approvals_json = "[]"
        # Every escalated decision is signed off, except a backlog: the last 0.2 % of the history, or
        # `pending_share` of them drawn anywhere.
        signed = rng.random() >= pending_share if pending_share is not None else i < decisions * 0.998
        if template.approval is not None and signed:
            at = moment + step / 2
            approver, approval = template.approval
            content = {k: data.get(k) for k in CONTENT_KEYS}
            digest = content_hash(content)
            assert template.approval_json is not None
            append("approval_recorded", approver, decision_id, {**approval, "content_hash": digest}, at,
                   template.approval_json.replace(HASH, digest))  # fmt: skip
            status, decided = "approved", at
            approvals_json = json.dumps([{
                "approver": approver, "verdict": approval["verdict"], "role": approval["role"],
                "reason": approval["reason"], "at": format_at(at), "on_behalf_of": approval.get("on_behalf_of"),
                "squad": approval.get("squad"), "dismissed": False, "content_hash": digest,
                "channel": approval.get("channel"),
            }])  # fmt: skip
        elif tier == 1:
            decided = moment
        squad = policy.people[filer].squad
        attributes_json, route_json, rules_json = template.columns_json
        rows.append((decision_id, filed_seq, seq - 1, data["title"], category, attributes_json, filer,
                     squad, tier, data["base_tier"], status, route_json, rules_json,
                     1, approvals_json, policy.version,
                     _stamp(moment), _stamp(decided or moment), _stamp(decided) if decided else None, 0))  # fmt: skip
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
    _reinstall_guards(url)
    print(f"\rgenerated {decisions:,} decisions, {seq:,} events in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)  # fmt: skip
    return int(seq)


#: Placeholders spliced into a template's canonical JSON per decision (plain text: nothing to escape).
TITLE, HASH = "@@title@@", "@@content-hash@@"


@dataclass(frozen=True)
class _Template:
    #: The decision_filed data the rules give (title aside).
    filed: dict[str, Any]
    #: Who approves it and the approval_recorded data the rules give (content hash aside); None for tier 1.
    approval: tuple[str, dict[str, Any]] | None

    @cached_property
    def filed_json(self) -> str:
        return _canonical_json({**self.filed, "title": TITLE})

    @cached_property
    def columns_json(self) -> tuple[str, str, str]:
        """The read model's JSON columns, the same for every decision of this template."""
        return tuple(json.dumps(self.filed[k]) for k in ("attributes", "route", "matched_rules"))  # type: ignore[return-value]

    @cached_property
    def approval_json(self) -> str | None:
        return _canonical_json({**self.approval[1], "content_hash": HASH}) if self.approval else None


def _reinstall_guards(url: str) -> None:
    from engine.store.db import create_db_engine
    from engine.store.guards import guard_problems, install_guards

    engine = create_db_engine(url)
    with engine.begin() as conn:
        install_guards(conn)
        problems = guard_problems(conn)
    engine.dispose()
    assert not problems, problems


def _stamp(moment: datetime) -> str:
    """As the UTCDateTime column stores it on SQLite (strftime("%Y-%m-%d %H:%M:%S.%f"), faster)."""
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} {moment.hour:02d}:{moment.minute:02d}:"
            f"{moment.second:02d}.{moment.microsecond:06d}")  # fmt: skip


def _canonical_json(data: dict[str, Any]) -> str:
    return canonical_bytes(data).decode()


def _template(
    policy: Policy, category: str, attributes: dict[str, Any], moment: datetime, filer: str = "mei"
) -> _Template:
    from engine.lifecycle import Authority, File, GiveVerdict, decide, state_of
    from engine.read_model import fold

    people = policy.people
    authority = Authority(policy=policy, now=moment)
    command = File(title="decision 0", category=category, attributes=attributes)
    [filed] = decide(command, people[filer], authority, decision_id="D0").events
    if filed.data["status"] == "resolved":
        return _Template(filed.data, None)
    # Tier 2: a tech PM of the other squad when the filer has one (tomas otherwise); tier 3: the director.
    other = "priya" if people[filer].squad == "nucleus" else "tomas"
    approver = other if filed.data["tier"] == 2 else "dana"
    body = {"type": filed.type, "seq": 0, "at": "2017-01-02T17:00:00.000000Z", "decision_id": "D0",
            "actor": filer, "data": filed.data}  # fmt: skip
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
