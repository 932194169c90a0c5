"""The tamper suite: every kind of tampering an attacker with database access could try, each caught with
the first bad seq and a specific reason by the service's verify, the CLI's offline verify and the
standalone script (tools/verify_export.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from api.cli import main
from engine.log.canonical import format_at, parse_at
from engine.log.export import ExportFilter, export_lines
from engine.log.merkle import frontier_append
from engine.runtime import Runtime
from engine.store.tables import LogHead
from engine.types import CommentRequest, DelegationRequest, FilingRequest, VerdictRequest, WithdrawRequest
from tests.log.tampering import drop_guards, replace_rows, restore_guards, rewrite_from, row_for, rows
from tests.support import REPO, ManualClock

K = 4  # the event the attacker goes after


@dataclass
class Verdicts:
    service: tuple[bool, int | None, str]
    cli: tuple[bool, int | None, str]
    script: tuple[bool, int | None, str]


def _history(rt: Runtime, clock: ManualClock) -> None:
    p = rt.policies.current.people
    s = rt.service
    s.file(p["mei"], FilingRequest(title="tier 1", category="reporting_format"))
    d = s.file(p["mei"], FilingRequest(title="risky", category="pipeline", attributes={"risk_score": 90})).decision
    clock.now += timedelta(minutes=5)
    s.decide(p["tomas"], d.id, VerdictRequest(verdict="approve"))
    s.comment(p["jon"], d.id, CommentRequest(text="thanks"))
    c = s.file(p["ravi"], FilingRequest(title="contract", category="contract", attributes={"change": "scope"})).decision
    s.decide(p["dana"], c.id, VerdictRequest(verdict="approve"))
    w = s.file(p["mei"], FilingRequest(title="oops", category="pipeline", attributes={"risk_score": 95})).decision
    s.withdraw(p["mei"], w.id, WithdrawRequest(reason="wrong"))
    week = DelegationRequest(delegate="ravi", role="tech_pm", starts_at=clock(), ends_at=clock() + timedelta(days=7))
    s.delegate(p["tomas"], week)


@pytest.fixture
def signed(runtime: Runtime, clock: ManualClock, tmp_path: Path) -> tuple[Runtime, Path, Path]:
    """A log of ten events of every common type, a checkpoint of it, and the auditor's key file."""
    _history(runtime, clock)
    checkpoint = runtime.checkpoints.create()
    assert checkpoint.size == 10
    note = tmp_path / "checkpoint.txt"
    note.write_text(checkpoint.note, encoding="utf-8")
    key = tmp_path / "public.key"
    key.write_text("\n".join(runtime.checkpoints.verifier_keys) + "\n", encoding="utf-8")
    drop_guards(runtime)
    return runtime, note, key


def _export(rt: Runtime, path: Path) -> Path:
    with path.open("wb") as out:
        for chunk in export_lines(rt.service.engine, "jsonl", ExportFilter()):
            out.write(chunk)
    return path


def _verdicts(rt: Runtime, tmp_path: Path, note: Path | None, key: Path) -> Verdicts:
    service = rt.service.verify_log()
    export = _export(rt, tmp_path / "export.jsonl")
    extra = ["--checkpoint", str(note), "--public-key", str(key)] if note else []
    cli = CliRunner().invoke(main, ["log", "verify", "--export", str(export), *extra])
    assert cli.stdout.startswith("{"), cli.output
    cli_json = json.loads(cli.stdout)
    assert cli.exit_code == (0 if cli_json["ok"] else 1)
    script = subprocess.run(
        [sys.executable, str(REPO / "tools" / "verify_export.py"), str(export), *extra],
        capture_output=True,
        text=True,
        check=False,
    )
    script_json = json.loads(script.stdout)
    assert script.returncode == (0 if script_json["ok"] else 1), script.stderr
    return Verdicts(
        service=(service.ok, service.first_bad_seq, service.reason or ""),
        cli=(cli_json["ok"], cli_json["first_bad_seq"], cli_json["reason"] or ""),
        script=(script_json["ok"], script_json["first_bad_seq"], script_json["reason"] or ""),
    )


def _update(rt: Runtime, sql: str, **params: Any) -> None:
    with rt.service.engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def _new_body(rt: Runtime, seq: int, change: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    return change(json.loads(rows(rt)[seq]["body"]))


def _mallory(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "actor": "mallory"}


# -- each tampering, and what the three verifiers must say -------------------------------------------------


def body_changed_hash_kept(rt: Runtime) -> None:
    body = _new_body(rt, K, _mallory)
    _update(rt, "UPDATE events SET body = :b, actor = 'mallory' WHERE seq = :k", b=row_for(body)["body"], k=K)


def body_changed_hash_recomputed(rt: Runtime) -> None:
    r = row_for(_new_body(rt, K, _mallory))
    _update(rt, "UPDATE events SET body = :b, leaf_hash = :h, actor = 'mallory' WHERE seq = :k", b=r["body"],
            h=r["leaf_hash"], k=K)  # fmt: skip


def suffix_rewritten(rt: Runtime) -> None:
    rewrite_from(rt, K, _mallory)


def query_column(rt: Runtime) -> None:
    _update(rt, "UPDATE events SET actor = 'mallory' WHERE seq = :k", k=K)


def deleted(rt: Runtime) -> None:
    _update(rt, "DELETE FROM events WHERE seq = :k", k=K)
    # The attacker closes the gap in the seq column too.
    _update(rt, "UPDATE events SET seq = seq - 1 WHERE seq > :k", k=K)


def inserted(rt: Runtime) -> None:
    old = rows(rt)
    forged_body = {**json.loads(old[K]["body"]), "actor": "mallory", "prev": old[K - 1]["leaf_hash"]}
    forged = row_for(forged_body)
    shifted = [dict(r, seq=i + 1) for i, r in enumerate(old[K:], start=K)]
    shifted[0]["prev_hash"] = forged["leaf_hash"]  # the column only: the unique index would refuse a twin
    replace_rows(rt, [*old[:K], forged, *shifted])


def backdated(rt: Runtime) -> None:
    old = rows(rt)
    last = json.loads(old[-1]["body"])
    body = {
        **last,
        "seq": len(old),
        "prev": old[-1]["leaf_hash"],
        "type": "comment_added",
        "at": format_at(parse_at(last["at"]) - timedelta(days=30)),
        "data": {"text": "written last month"},
    }
    replace_rows(rt, [*old, row_for(body)])


def swapped(rt: Runtime) -> None:
    old = rows(rt)
    replace_rows(rt, [*old[:K], dict(old[K + 1], seq=K), dict(old[K], seq=K + 1), *old[K + 2 :]])


def truncated(rt: Runtime) -> None:
    _update(rt, "DELETE FROM events WHERE seq >= 7")


def non_canonical(rt: Runtime) -> None:
    spaced = json.dumps(json.loads(rows(rt)[K]["body"]), sort_keys=True)  # ", " and ": " separators
    _update(rt, "UPDATE events SET body = :b WHERE seq = :k", b=spaced, k=K)


CASES: dict[str, tuple[Callable[[Runtime], None], tuple[int | None, str], tuple[int | None, str]]] = {
    # name: (tampering, (service's first bad seq, reason word), (offline first bad seq, reason word))
    "body changed, stored hash kept": (body_changed_hash_kept, (K, "leaf hash"), (K + 1, "prev")),
    "body changed, its hash recomputed": (body_changed_hash_recomputed, (K + 1, "prev"), (K + 1, "prev")),
    "suffix rewritten, all hashes recomputed": (suffix_rewritten, (None, "rewritten"), (None, "rewritten")),
    "deleted event": (deleted, (K, "seq"), (K, "seq")),
    "inserted event": (inserted, (K + 1, "seq"), (K + 1, "seq")),
    "backdated event": (backdated, (10, "backdated"), (10, "backdated")),
    "two events swapped": (swapped, (K, "seq"), (K, "seq")),
    "tail truncated": (truncated, (7, "missing from the tail"), (7, "missing from the tail")),
    "non-canonical bytes": (non_canonical, (K, "non-canonical"), (K, "non-canonical")),
}


def test_an_untouched_log_verifies_everywhere(signed: tuple[Runtime, Path, Path], tmp_path: Path) -> None:
    rt, note, key = signed
    v = _verdicts(rt, tmp_path, note, key)
    # The fixture dropped the guards: only the service, which sees the database, can tell.
    assert not v.service[0] and "the append-only trigger" in v.service[2] and "missing" in v.service[2], v
    assert v.cli[0] and v.script[0], v
    restore_guards(rt)
    v = _verdicts(rt, tmp_path, note, key)
    assert v.service[0] and v.cli[0] and v.script[0], v


@pytest.mark.parametrize("case", list(CASES))
def test_tampering_is_caught_by_the_service_the_cli_and_the_script(
    signed: tuple[Runtime, Path, Path], tmp_path: Path, case: str
) -> None:
    rt, note, key = signed
    tamper, (service_seq, service_word), (offline_seq, offline_word) = CASES[case]
    tamper(rt)
    v = _verdicts(rt, tmp_path, note, key)
    ok, seq, reason = v.service
    assert (ok, seq) == (False, service_seq) and service_word in reason, v.service
    for name, (ok, seq, reason) in (("cli", v.cli), ("script", v.script)):
        assert (ok, seq) == (False, offline_seq), (name, v)
        assert offline_word in reason, (name, reason)


def test_a_rewritten_suffix_passes_without_a_checkpoint_and_fails_with_one(
    signed: tuple[Runtime, Path, Path], tmp_path: Path
) -> None:
    """The first half: a chain whose every hash was recomputed is internally consistent. Only a
    signature made before the forgery tells the two histories apart."""
    rt, note, key = signed
    suffix_rewritten(rt)
    without = _verdicts(rt, tmp_path, None, key)
    assert without.cli[0] and without.script[0]
    with_checkpoint = _verdicts(rt, tmp_path, note, key)
    assert not with_checkpoint.cli[0] and not with_checkpoint.script[0]


@pytest.mark.parametrize(("key", "seq", "word"), [("seq", 1, "seq true"), ("v", K, "format version true")])
def test_true_never_passes_for_the_number_1(
    signed: tuple[Runtime, Path, Path], tmp_path: Path, key: str, seq: int, word: str
) -> None:
    """JSON's true equals 1 in Python: a forged chain (every hash recomputed) writing `"seq": true`
    at position 1, or `"v": true`, is refused by all three verifiers, even without a checkpoint."""
    rt, _, public_key = signed
    rewrite_from(rt, seq, lambda body: {**body, key: True})
    v = _verdicts(rt, tmp_path, None, public_key)
    for name, (ok, bad_seq, reason) in (("service", v.service), ("cli", v.cli), ("script", v.script)):
        assert (ok, bad_seq) == (False, seq) and word in reason, (name, v)


def test_a_query_column_that_disagrees_with_its_body(signed: tuple[Runtime, Path, Path], tmp_path: Path) -> None:
    """The service checks its columns against the bodies. An export carries bodies only, so offline the
    column edit is invisible, and harmless: what the auditor verifies is what the body says."""
    rt, note, key = signed
    query_column(rt)
    v = _verdicts(rt, tmp_path, note, key)
    assert v.service[:2] == (False, K) and "actor column" in v.service[2]
    assert v.cli[0] and v.script[0]


def test_truncation_after_the_last_checkpoint_is_not_detectable(
    signed: tuple[Runtime, Path, Path], tmp_path: Path, clock: ManualClock
) -> None:
    """A documented limit: events appended after the last checkpoint can be cut off without a trace,
    which is why checkpoints are signed at every digest window close and on demand."""
    rt, note, key = signed
    p = rt.policies.current.people
    rt.service.file(p["mei"], FilingRequest(title="after the checkpoint", category="reporting_format"))
    _update(rt, "DELETE FROM events WHERE seq >= 10")
    # The service still sees the chain head row counting the event that was cut off...
    v = _verdicts(rt, tmp_path, note, key)
    assert not v.service[0] and "the chain head row says the log has 11 events" in v.service[2], v
    assert v.cli[0] and v.script[0]
    # ...until the head row is rolled back too, and the guards put back.
    with rt.service.engine.begin() as conn:
        frontier: list[bytes] = []
        for i, r in enumerate(rows(rt)):
            frontier = frontier_append(frontier, i, bytes.fromhex(r["leaf_hash"]))
        conn.execute(
            sa.update(LogHead.__table__).values(  # type: ignore[attr-defined]
                size=10, head_hash=rows(rt)[9]["leaf_hash"], frontier=[f.hex() for f in frontier]
            )
        )
    restore_guards(rt)
    v = _verdicts(rt, tmp_path, note, key)
    assert v.service[0] and v.cli[0] and v.script[0]


@pytest.mark.parametrize("field", ["size", "root", "origin", "unknown key"])
def test_a_tampered_checkpoint_is_refused_offline(
    signed: tuple[Runtime, Path, Path], tmp_path: Path, field: str
) -> None:
    rt, note, key = signed
    from tests.log.test_checkpoints import _tampered

    bad = _tampered(note.read_text(encoding="utf-8"), "")[field]
    bad_note = tmp_path / "bad-checkpoint.txt"
    bad_note.write_text(bad, encoding="utf-8")
    v = _verdicts(rt, tmp_path, bad_note, key)
    for name, (ok, _seq, reason) in (("cli", v.cli), ("script", v.script)):
        assert not ok, name
        assert "checkpoint" in reason or "does not verify" in reason, (name, reason)


ALL_EVENT_TYPES = {
    "policy_activated",
    "decision_filed",
    "approval_recorded",
    "decision_withdrawn",
    "decision_amended",
    "decision_proceeded",
    "decision_superseded",
    "comment_added",
    "delegation_granted",
    "delegation_revoked",
}


def test_the_service_and_the_script_agree_on_every_event_type(
    runtime: Runtime, clock: ManualClock, tmp_path: Path
) -> None:
    from engine.types import AmendRequest, ProceedRequest

    _history(runtime, clock)
    p, s = runtime.policies.current.people, runtime.service
    d = s.file(p["mei"], FilingRequest(title="amend me", category="pipeline", attributes={"risk_score": 80})).decision
    s.amend(p["mei"], d.id, AmendRequest(title="amended \u00e9t\u00e9 \U0001f600", attributes={"risk_score": 81}))
    s.proceed(p["mei"], d.id, ProceedRequest(reason="outage"))
    old = s.file(p["jon"], FilingRequest(title="v1", category="reporting_format")).decision
    s.file(p["jon"], FilingRequest(title="v2", category="reporting_format", supersedes=old.id))
    [grant] = s.delegations(p["tomas"])
    s.revoke_delegation(p["tomas"], grant.id)
    key = tmp_path / "public.key"
    key.write_text("\n".join(runtime.checkpoints.verifier_keys) + "\n", encoding="utf-8")
    note = tmp_path / "cp.txt"
    note.write_text(runtime.checkpoints.create().note, encoding="utf-8")
    assert {json.loads(r["body"])["type"] for r in rows(runtime)} == ALL_EVENT_TYPES
    v = _verdicts(runtime, tmp_path, note, key)
    assert v.service[0] and v.cli[0] and v.script[0], v
    service_root = runtime.service.verify_log().root
    script = subprocess.run(
        [sys.executable, str(REPO / "tools" / "verify_export.py"), str(tmp_path / "export.jsonl")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(script.stdout)["root"] == service_root
