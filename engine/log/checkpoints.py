"""Signed checkpoints of the log: creation, storage (append-only, in the database AND beside the key),
and the start-up check that refuses to append to a database restored from an old backup.

The copy beside the key matters: a restored backup brings its own (old) checkpoints
table with it, so only a record kept outside the database can tell that the
database has gone back in time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, insert, select

from engine.errors import LogIntegrityError
from engine.log.appender import read_head
from engine.log.checkpoint import Checkpoint, parse_checkpoint, sign_checkpoint, verify_checkpoint
from engine.log.keys import SigningKey, public_key_text
from engine.log.merkle import consistency_proof, frontier_root, root, verify_consistency
from engine.log.proofs import leaf_hashes
from engine.store.db import read_transaction, write_transaction
from engine.store.tables import Checkpoint as CheckpointRow
from engine.store.tables import Event

_events = Event.__table__  # type: ignore[attr-defined]
_checkpoints = CheckpointRow.__table__  # type: ignore[attr-defined]

LAST_CHECKPOINT_FILE = "last-checkpoint"


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    size: int
    root_hash: str
    note: str


class CheckpointService:
    def __init__(self, engine: Engine, origin: str, keys: list[SigningKey], state_dir: Path, clock) -> None:  # type: ignore[no-untyped-def]
        self.engine = engine
        self.origin = origin
        self.keys = keys
        self.state_dir = state_dir
        self.clock = clock

    @property
    def verifier_keys(self) -> list[str]:
        return [public_key_text(k) for k in self.keys]

    def latest(self) -> StoredCheckpoint | None:
        with read_transaction(self.engine) as conn:
            row = conn.execute(select(_checkpoints).order_by(_checkpoints.c.id.desc()).limit(1)).mappings().first()
        return StoredCheckpoint(row["size"], row["root_hash"], row["note"]) if row else None

    def create(self) -> StoredCheckpoint:
        """Sign the current tree head, after proving it extends the previous checkpoint."""
        with write_transaction(self.engine) as conn:
            head = read_head(conn, lock=True)
            tree_root = frontier_root([bytes.fromhex(h) for h in head.frontier], head.size)
            previous = conn.execute(select(_checkpoints).order_by(_checkpoints.c.id.desc()).limit(1)).mappings().first()
            if previous is not None:
                self._require_extends(
                    conn, previous["size"], bytes.fromhex(previous["root_hash"]), head.size, tree_root
                )
                if previous["size"] == head.size:
                    return StoredCheckpoint(previous["size"], previous["root_hash"], previous["note"])
            note = sign_checkpoint(self.origin, head.size, tree_root, self.keys)
            conn.execute(
                insert(_checkpoints).values(
                    size=head.size, root_hash=tree_root.hex(), note=note, created_at=self.clock()
                )
            )
        self._remember(note)
        return StoredCheckpoint(head.size, tree_root.hex(), note)

    def _require_extends(self, conn: Connection, old_size: int, old_root: bytes, size: int, new_root: bytes) -> None:
        if size < old_size:
            raise LogIntegrityError(
                f"the log has {size} events but an earlier checkpoint signed {old_size}: refusing to sign a shorter log"
            )
        leaves = leaf_hashes(conn, size)
        proof = consistency_proof(leaves, old_size, size)
        if not verify_consistency(old_size, size, old_root, new_root, proof):
            raise LogIntegrityError(
                f"the first {old_size} events no longer hash to the root signed in the last checkpoint: "
                "the log was rewritten; refusing to sign"
            )

    # -- the record beside the key ------------------------------------------------------------------

    @property
    def _state_file(self) -> Path:
        return self.state_dir / LAST_CHECKPOINT_FILE

    def _remember(self, note: str) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self._state_file.with_suffix(".tmp")
        tmp.write_text(note, encoding="utf-8")
        os.replace(tmp, self._state_file)

    def remembered(self) -> Checkpoint | None:
        if not self._state_file.exists():
            return None
        return verify_checkpoint(self._state_file.read_text(encoding="utf-8"), self.verifier_keys, origin=self.origin)

    def startup_check(self) -> None:
        """Raise LogIntegrityError when the database is behind (or diverged from) the last signed checkpoint."""
        signed = self.remembered()
        if signed is None:
            return
        with read_transaction(self.engine) as conn:
            head = read_head(conn)
            if head.size < signed.size:
                raise LogIntegrityError(
                    f"the database holds {head.size} events but checkpoint {signed.size} was signed: "
                    "it was restored from an old backup; appending would fork the log"
                )
            leaves = leaf_hashes(conn, signed.size)
        if root(leaves) != signed.root:
            raise LogIntegrityError(
                f"the first {signed.size} events do not hash to the last signed checkpoint's root: the log was altered"
            )


def parse_note(note: str) -> Checkpoint:
    return parse_checkpoint(note)
