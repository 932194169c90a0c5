"""Incremental verification: only the events after the latest stored ok result are read, and a stored
row (which a database writer could forge) never makes a bad log pass. Both backends."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa

from engine.log.canonical import GENESIS_PREV
from engine.log.incremental import verify_and_record_tail, verify_tail
from engine.log.merkle import frontier_append, frontier_root
from engine.log.recorded import verify_full_and_record
from engine.log.verifications import latest, record
from engine.runtime import Runtime
from engine.types import FilingRequest
from tests.log.tampering import drop_guards, restore_guards, rewrite_from, row_for, rows
from tests.support import ManualClock


def _file(rt: Runtime, n: int) -> None:
    mei = rt.policies.current.people["mei"]
    for i in range(n):
        rt.service.file(mei, FilingRequest(title=f"filing {i}", category="reporting_format"))


def _full(rt: Runtime) -> Any:
    return verify_full_and_record(rt.service.engine, rt.service.origin, rt.checkpoints.trusted(), rt.service.clock)


def _tail(rt: Runtime) -> Any:
    return verify_tail(rt.service.engine, rt.service.origin, rt.checkpoints)


def _sql(rt: Runtime, statement: str, **params: Any) -> None:
    with rt.service.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def _mallory(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "actor": "mallory"}


def test_nothing_stored_means_nothing_checked(runtime: Runtime) -> None:
    _file(runtime, 2)
    tail = _tail(runtime)
    assert tail.result is None and tail.base is None
    assert tail.missing == "no verification is stored yet: run a full verification"


def test_the_tail_is_checked_from_the_stored_prefix_and_recorded(runtime: Runtime, clock: ManualClock) -> None:
    _file(runtime, 3)
    result, full = _full(runtime)
    assert result.ok and full.size == 4 and full.kind == "full"  # the policy activation and 3 filings
    _file(runtime, 2)
    clock.advance(minutes=1)
    tail, stored = verify_and_record_tail(runtime.service.engine, runtime.service.origin, runtime.checkpoints, clock)
    assert tail.result is not None and tail.result.ok, tail.result
    assert tail.base is not None and tail.base.id == full.id
    assert stored is not None and (stored.kind, stored.base_size, stored.size) == ("incremental", 4, 6)
    # Same root and head as a verification of the whole log.
    whole = runtime.service.verify_log()
    assert (tail.result.root, tail.result.head_hash, tail.result.size) == (whole.root, whole.head_hash, whole.size)
    # The next check resumes from the incremental result: nothing new, nothing read.
    again = _tail(runtime)
    assert again.base is not None and again.base.id == stored.id and again.result.ok
    assert latest(runtime.service.engine, ["full", "incremental"]) == stored


def test_an_edited_event_after_the_stored_prefix_is_found(runtime: Runtime) -> None:
    _file(runtime, 2)
    _full(runtime)
    _file(runtime, 2)
    drop_guards(runtime)
    body = _mallory(json.loads(rows(runtime)[4]["body"]))
    _sql(runtime, "UPDATE events SET body = :b, actor = 'mallory' WHERE seq = 4", b=row_for(body)["body"])
    tail = _tail(runtime)
    assert tail.result is not None and not tail.result.ok
    assert tail.result.first_bad_seq == 4 and "the body was changed" in (tail.result.reason or "")


def test_a_rechained_tail_is_found_by_the_checkpoint_it_contradicts(runtime: Runtime) -> None:
    _file(runtime, 2)
    _full(runtime)
    _file(runtime, 2)
    runtime.checkpoints.create()  # signs 5 events
    drop_guards(runtime)
    rewrite_from(runtime, 4, _mallory)  # hashes recomputed, head row rewritten: only the signature disagrees
    tail = _tail(runtime)
    assert tail.result is not None and not tail.result.ok
    assert "do not hash to the checkpoint's root" in (tail.result.reason or "")


def test_a_lowered_or_altered_head_row_is_found(runtime: Runtime) -> None:
    _file(runtime, 2)
    _full(runtime)
    _file(runtime, 2)
    drop_guards(runtime)
    _sql(runtime, "UPDATE log_head SET size = size - 1")
    lowered = _tail(runtime)
    assert lowered.result is not None and not lowered.result.ok
    assert "the chain head row says the log has 4 events but the events table holds 5" in (lowered.result.reason or "")
    _sql(runtime, "UPDATE log_head SET size = size + 1, head_hash = :h", h="ab" * 32)
    altered = _tail(runtime)
    assert altered.result is not None and not altered.result.ok
    assert "the head row was altered" in (altered.result.reason or "")


def test_a_failure_stands_until_a_full_verification_passes(runtime: Runtime) -> None:
    _file(runtime, 3)
    _full(runtime)
    drop_guards(runtime)
    original = rows(runtime)[1]["body"]
    # An event inside the verified prefix: the tail check cannot see it, the full verification does.
    body = _mallory(json.loads(original))
    _sql(runtime, "UPDATE events SET body = :b, actor = 'mallory' WHERE seq = 1", b=row_for(body)["body"])
    restore_guards(runtime)
    assert _tail(runtime).result.ok  # by design: events before the seam are the full verification's
    failed, _ = _full(runtime)
    assert not failed.ok and failed.first_bad_seq == 1
    standing = _tail(runtime)
    assert standing.result is not None and not standing.result.ok and standing.result.first_bad_seq == 1
    drop_guards(runtime)
    _sql(runtime, "UPDATE events SET body = :b, actor = 'mei' WHERE seq = 1", b=original)
    restore_guards(runtime)
    repaired, _ = _full(runtime)
    assert repaired.ok and _tail(runtime).result.ok


def _forge(rt: Runtime, size: int, frontier: list[bytes], root: bytes | None = None, head: str | None = None) -> int:
    """A database writer's ok row: any size, frontier and root it likes."""
    now = rt.service.clock()
    leaf_of_last = rows(rt)[size - 1]["leaf_hash"] if size else GENESIS_PREV
    return record(rt.service.engine, "full", size=size, ok=True, started_at=now, finished_at=now,
                  root=(root or frontier_root(frontier, size)).hex(), head_hash=head or leaf_of_last,
                  frontier=frontier).id  # fmt: skip


def _junk_frontier(size: int) -> list[bytes]:
    frontier: list[bytes] = []
    for i in range(size):
        frontier = frontier_append(frontier, i, hashlib.sha256(b"junk %d" % i).digest())
    return frontier


def test_a_forged_frontier_is_refused_by_the_signed_checkpoint(runtime: Runtime) -> None:
    _file(runtime, 3)
    runtime.checkpoints.create()  # 4 events signed
    _file(runtime, 1)
    # A self-consistent row (its frontier gives its root, the seam event hashes to its head) over other leaves.
    forged = _forge(runtime, 3, _junk_frontier(3))
    tail = _tail(runtime)
    assert tail.base is not None and tail.base.id == forged and tail.anchored_at == 4
    assert tail.result is not None and not tail.result.ok
    assert "the first 4 events do not hash to the checkpoint's root" in (tail.result.reason or "")


def test_a_row_that_does_not_hold_together_is_refused(runtime: Runtime) -> None:
    _file(runtime, 3)
    honest = _junk_frontier(4)
    wrong_root = _forge(runtime, 4, honest, root=b"\x07" * 32)
    refused = _tail(runtime)
    assert refused.base is not None and refused.base.id == wrong_root and not refused.result.ok
    assert "does not give the root it records" in (refused.result.reason or "")
    _forge(runtime, 4, [*honest, honest[0]], root=frontier_root(honest, 4))
    assert "shape of a tree of 4 events" in (_tail(runtime).result.reason or "")
    _forge(runtime, 4, honest, head="cd" * 32)
    assert "event 3 does not hash to the head hash it records" in (_tail(runtime).result.reason or "")


def test_rows_beyond_the_largest_checkpoint_are_not_built_on(runtime: Runtime) -> None:
    _file(runtime, 2)
    runtime.checkpoints.create()  # 3 events signed
    _file(runtime, 2)
    _forge(runtime, 5, _junk_frontier(5))  # nothing signed reaches it: it proves nothing
    tail = _tail(runtime)
    assert tail.result is None and tail.missing is not None and "(3 events)" in tail.missing
    _, honest = _full(runtime)
    checked = _tail(runtime)
    # The honest full result is beyond the checkpoint too: the tail is read from the checkpoint's side.
    assert checked.result is None
    runtime.checkpoints.create()  # 5 events signed
    final = _tail(runtime)
    assert final.base is not None and final.base.id == honest.id and final.result.ok


def test_a_checkpoint_signed_by_a_key_we_do_not_hold_anchors_nothing(runtime: Runtime) -> None:
    from engine.log.checkpoint import sign_checkpoint
    from engine.log.keys import generate
    from engine.store.tables import Checkpoint

    _file(runtime, 2)
    runtime.checkpoints.create()  # 3 events, our key
    _full(runtime)
    _file(runtime, 2)
    stranger = sign_checkpoint(runtime.service.origin, 5, b"\x05" * 32, [generate(runtime.service.origin)])
    with runtime.service.engine.begin() as conn:
        conn.execute(sa.insert(Checkpoint.__table__).values(  # type: ignore[attr-defined]
            size=5, root_hash="05" * 32, note=stranger, created_at=runtime.service.clock()))  # fmt: skip
    assert runtime.checkpoints.largest_trusted() is not None
    assert runtime.checkpoints.largest_trusted()[0] == 3  # type: ignore[index]
    tail = _tail(runtime)
    assert tail.anchored_at == 3 and tail.result is not None and tail.result.ok


def test_a_seam_event_that_is_not_a_log_entry_is_refused_not_raised(runtime: Runtime) -> None:
    from engine.log.canonical import leaf_hash

    _file(runtime, 3)
    drop_guards(runtime)
    _sql(runtime, "UPDATE events SET body = 'not json' WHERE seq = 3")
    restore_guards(runtime)
    _forge(runtime, 4, _junk_frontier(4), head=leaf_hash(b"not json").hex())
    tail = _tail(runtime)
    assert tail.result is not None and not tail.result.ok
    assert "event 3 is not an event with a time" in (tail.result.reason or "")
