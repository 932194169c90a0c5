"""Signed checkpoints: the note format, keys (0600 file, environment, rotation), tampered notes,
consistency with earlier checkpoints, and the refusal to append to a database restored from an old backup."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from engine.errors import LogIntegrityError
from engine.log.checkpoint import CheckpointError, parse_checkpoint, sign_checkpoint, verify_checkpoint
from engine.log.checkpoints import check_fork
from engine.log.keys import (
    KeyFormatError,
    fingerprint,
    generate,
    load_or_create,
    parse_signer,
    parse_verifier,
    public_key_text,
    signer_text,
)
from engine.runtime import Runtime, open_runtime
from engine.store.backup import backup_sqlite
from engine.types import FilingRequest
from tests.support import DEFAULT_POLICY, ManualClock

ROOT = bytes(range(32))
ORIGIN = "decision-rights.example/log"


def _file(rt: Runtime, n: int = 1) -> None:
    mei = rt.policies.current.people["mei"]
    for i in range(n):
        rt.service.file(mei, FilingRequest(title=f"t{i}", category="reporting_format"))


def test_note_format_is_c2sp() -> None:
    key = generate(ORIGIN)
    note = sign_checkpoint(ORIGIN, 7, ROOT, [key])
    body, signatures = note.split("\n\n")
    assert body == f"{ORIGIN}\n7\n{base64.b64encode(ROOT).decode()}"
    [line] = signatures.splitlines()
    assert line.startswith(f"\u2014 {ORIGIN} ")
    raw = base64.b64decode(line.split(" ")[2])
    assert raw[:4] == key.key_id and len(raw) == 68
    checkpoint = verify_checkpoint(note, [public_key_text(key)], origin=ORIGIN)
    assert (checkpoint.origin, checkpoint.size, checkpoint.root) == (ORIGIN, 7, ROOT)


def test_key_texts_round_trip_and_ids_are_checked() -> None:
    key = generate("log")
    assert parse_signer(signer_text(key)).public_bytes == key.public_bytes
    verifier = parse_verifier(public_key_text(key))
    assert verifier.key_id == key.key_id and fingerprint(verifier) == fingerprint(key)
    _name, key_id, encoded = public_key_text(key).split("+", 2)
    with pytest.raises(KeyFormatError, match="does not match"):
        parse_verifier(f"other+{key_id}+{encoded}")
    with pytest.raises(KeyFormatError):
        parse_verifier("not a key")


def _tampered(note: str, key_text: str) -> dict[str, str]:
    body, sigs = note.split("\n\n")
    origin, size, root = body.split("\n")
    other_root = base64.b64encode(bytes(32)).decode()
    stranger = generate(ORIGIN)
    return {
        "size": f"{origin}\n{int(size) + 1}\n{root}\n\n{sigs}",
        "root": f"{origin}\n{size}\n{other_root}\n\n{sigs}",
        "origin": f"evil.example/log\n{size}\n{root}\n\n{sigs}",
        "unknown key": sign_checkpoint(ORIGIN, int(size), base64.b64decode(root), [stranger]),
        "no signature": f"{body}\n\n",
        "garbage": "hello",
    }


@pytest.mark.parametrize("case", ["size", "root", "origin", "unknown key", "no signature", "garbage"])
def test_tampered_checkpoints_are_rejected(case: str) -> None:
    key = generate(ORIGIN)
    note = sign_checkpoint(ORIGIN, 3, ROOT, [key])
    bad = _tampered(note, public_key_text(key))[case]
    with pytest.raises(CheckpointError):
        verify_checkpoint(bad, [public_key_text(key)], origin=ORIGIN)


def test_rotation_adds_a_second_signature_line_and_either_key_verifies() -> None:
    old, new = generate(ORIGIN), generate(ORIGIN)
    note = sign_checkpoint(ORIGIN, 3, ROOT, [old, new])
    assert len(parse_checkpoint(note).signatures) == 2
    for key in (old, new):
        assert verify_checkpoint(note, [public_key_text(key)], origin=ORIGIN).size == 3


def test_the_key_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    key_file = tmp_path / "state" / "signing.key"
    [key] = load_or_create(key_file, ORIGIN)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    [again] = load_or_create(key_file, ORIGIN)
    assert again.public_bytes == key.public_bytes
    key_file.chmod(0o644)
    with pytest.raises(KeyFormatError, match="chmod 600"):
        load_or_create(key_file, ORIGIN)
    from_env = generate(ORIGIN)
    [env_key] = load_or_create(tmp_path / "unused.key", ORIGIN, signer_text(from_env))
    assert env_key.public_bytes == from_env.public_bytes
    assert not (tmp_path / "unused.key").exists()


def test_the_database_never_holds_the_signing_key(runtime: Runtime) -> None:
    _file(runtime)
    runtime.checkpoints.create()
    secret = signer_text(runtime.checkpoints.keys[0]).split("+", 4)[-1]
    with runtime.service.engine.connect() as conn:
        for table in ("events", "checkpoints", "log_head", "policy_versions"):
            rows = conn.exec_driver_sql(f"SELECT * FROM {table}").all()
            assert secret not in repr(rows)


def test_checkpoints_grow_with_the_log_and_verify(runtime: Runtime) -> None:
    _file(runtime, 3)
    first = runtime.checkpoints.create()
    assert runtime.checkpoints.create() == first  # nothing new: the same checkpoint
    _file(runtime, 2)
    second = runtime.checkpoints.create()
    assert second.size == first.size + 2
    parsed = verify_checkpoint(second.note, runtime.checkpoints.verifier_keys, origin=runtime.service.origin)
    assert parsed.root.hex() == runtime.service.verify_log().root
    assert check_fork(first.note, second.note, runtime.checkpoints.verifier_keys, runtime.service.origin) is None


def test_a_fork_is_two_checkpoints_that_cannot_both_hold(runtime: Runtime) -> None:
    _file(runtime, 2)
    honest = runtime.checkpoints.create()
    forged = sign_checkpoint(runtime.service.origin, honest.size, bytes(32), runtime.checkpoints.keys)
    reason = check_fork(honest.note, forged, runtime.checkpoints.verifier_keys, runtime.service.origin)
    assert reason and "forked" in reason


def test_a_restore_from_an_old_backup_is_refused_at_start_up(sqlite_url: str, tmp_path: Path) -> None:
    clock = ManualClock()
    rt = open_runtime(sqlite_url, str(DEFAULT_POLICY), clock=clock)
    _file(rt, 2)
    old_copy = backup_sqlite(sqlite_url, tmp_path / "old.db")
    _file(rt, 3)
    signed = rt.checkpoints.create()
    rt.close()
    db_path = Path(sqlite_url.removeprefix("sqlite:///"))
    db_path.unlink()
    for suffix in ("-wal", "-shm"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    old_copy.rename(db_path)

    restored = open_runtime(sqlite_url, str(DEFAULT_POLICY), clock=clock)
    try:
        assert restored.service.append_blocked and f"checkpoint {signed.size}" in restored.service.append_blocked
        with pytest.raises(LogIntegrityError, match="old backup"):
            _file(restored)
        with pytest.raises(LogIntegrityError):
            restored.checkpoints.create()
        # Reads and verification still work, and say what is wrong.
        result = restored.service.verify_log()
        assert not result.ok and "missing from the tail" in (result.reason or "")
    finally:
        restored.close()


def test_the_service_refuses_to_sign_a_rewritten_log(runtime: Runtime) -> None:
    _file(runtime, 3)
    runtime.checkpoints.create()
    from tests.log.tampering import drop_guards, rewrite_from

    drop_guards(runtime)
    rewrite_from(runtime, 1, lambda body: {**body, "actor": "mallory"})
    with pytest.raises(LogIntegrityError, match="rewritten"):
        runtime.checkpoints.create()
    result = runtime.service.verify_log()
    assert not result.ok and "rewritten" in (result.reason or "")


def test_the_next_checkpoint_proves_consistency_from_the_stored_frontier(runtime: Runtime) -> None:
    """Each checkpoint keeps its tree's frontier; the next one extends it by the new leaves only."""
    import sqlalchemy as sa

    from engine.log.appender import read_head
    from engine.store.db import read_transaction
    from tests.log.tampering import drop_guards, rewrite_from

    _file(runtime, 3)
    first = runtime.checkpoints.create()
    with read_transaction(runtime.service.engine) as conn:
        head = read_head(conn)
        stored = conn.execute(sa.text("SELECT frontier FROM checkpoints ORDER BY id DESC LIMIT 1")).scalar_one()
    stored = json.loads(stored) if isinstance(stored, str) else stored
    assert stored == head.frontier and first.size == head.size
    _file(runtime, 2)
    assert runtime.checkpoints.create().size == first.size + 2
    # History before the latest checkpoint rewritten (hashes recomputed, head row rewritten), more events:
    # the stored frontier, extended by the leaves now stored, is not the head's tree.
    _file(runtime, 1)
    drop_guards(runtime)
    rewrite_from(runtime, 1, lambda body: {**body, "actor": "mallory"})
    with pytest.raises(LogIntegrityError, match="rewritten"):
        runtime.checkpoints.create()


def test_a_stored_frontier_that_does_not_give_the_signed_root_falls_back_to_the_full_proof(runtime: Runtime) -> None:
    import hashlib

    import sqlalchemy as sa

    from engine.log.checkpoint import sign_checkpoint
    from engine.log.merkle import frontier_append
    from engine.store.tables import Checkpoint

    _file(runtime, 3)
    honest = runtime.checkpoints.create()
    junk: list[bytes] = []
    for i in range(honest.size):
        junk = frontier_append(junk, i, hashlib.sha256(b"junk %d" % i).digest())
    signed_root = bytes.fromhex(honest.root_hash)
    note = sign_checkpoint(runtime.service.origin, honest.size, signed_root, runtime.checkpoints.keys)
    with runtime.service.engine.begin() as conn:
        conn.execute(sa.insert(Checkpoint.__table__).values(  # type: ignore[attr-defined]
            size=honest.size, root_hash=honest.root_hash, note=note, created_at=runtime.service.clock(),
            frontier=[n.hex() for n in junk]))  # fmt: skip
    _file(runtime, 2)
    signed = runtime.checkpoints.create()
    assert signed.size == honest.size + 2 and runtime.service.verify_log().ok
