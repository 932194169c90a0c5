"""Signed checkpoints of the log: creation, storage (append-only, in the database AND beside the key),
and the start-up check that refuses to append to a database restored from an old backup.

The copy beside the key matters: a restored backup brings its own (old) checkpoints
table with it, so only a record kept outside the database can tell that the
database has gone back in time.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from engine.errors import LogIntegrityError
from engine.log.appender import read_head
from engine.log.checkpoint import (
    Checkpoint,
    CheckpointError,
    parse_checkpoint,
    sign_checkpoint,
    verify_checkpoint,
)
from engine.log.keys import KEY_FILE_NAME, SigningKey, fingerprint, load_or_create, public_key_text
from engine.log.merkle import consistency_proof, frontier_root, verify_consistency
from engine.log.prefix_root import extend_frontier, prefix_root_is
from engine.log.proofs import leaf_hashes
from engine.store.db import read_transaction, write_transaction
from engine.store.tables import Checkpoint as CheckpointRow
from engine.store.tables import Event

_events = Event.__table__  # type: ignore[attr-defined]
_checkpoints = CheckpointRow.__table__  # type: ignore[attr-defined]

LAST_CHECKPOINT_FILE = "last-checkpoint"
#: Set by `decisions serve` for the server's processes once it has checked the last signed checkpoint
#: against the database, so that each worker does not read the signed prefix again.
STARTUP_CHECKED_ENV = "DECISIONS_STARTUP_CHECKED"


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    size: int
    root_hash: str
    note: str


def state_dir_for(database_url: str) -> Path:
    """Where the signing key and the last checkpoint live: outside the database, never inside it.

    DECISIONS_STATE_DIR wins; a SQLite file gets a directory beside it; any other database
    a directory per URL under ./.decisions-state.
    """
    explicit = os.environ.get("DECISIONS_STATE_DIR")
    if explicit:
        return Path(explicit)
    match = re.match(r"sqlite(?:\+\w+)?:///(.+)$", database_url)
    if match and match.group(1) != ":memory:":
        return Path(match.group(1) + ".state")
    return Path(".decisions-state") / hashlib.sha256(database_url.encode()).hexdigest()[:16]


class CheckpointService:
    def __init__(
        self,
        engine: Engine,
        origin: str,
        state_dir: Path,
        clock: Callable[[], datetime],
        keys: list[SigningKey] | None = None,
    ) -> None:
        self.engine = engine
        self.origin = origin
        self.state_dir = state_dir
        self.clock = clock
        self._keys = keys
        #: After a start-up check that held against a signed checkpoint: the token for STARTUP_CHECKED_ENV.
        self.startup_checked: str | None = None

    @property
    def key_file(self) -> Path:
        return self.state_dir / KEY_FILE_NAME

    @property
    def keys(self) -> list[SigningKey]:
        """Loaded from DECISIONS_SIGNING_KEY or the key file; generated (0600) on first use."""
        if self._keys is None:
            self._keys = load_or_create(self.key_file, self.origin, os.environ.get("DECISIONS_SIGNING_KEY"))
        return self._keys

    def reload_keys(self) -> None:
        self._keys = None

    @property
    def verifier_keys(self) -> list[str]:
        return [public_key_text(k) for k in self.keys]

    @property
    def fingerprints(self) -> list[str]:
        return [fingerprint(k) for k in self.keys]

    def latest(self) -> StoredCheckpoint | None:
        with read_transaction(self.engine) as conn:
            row = conn.execute(select(_checkpoints).order_by(_checkpoints.c.id.desc()).limit(1)).mappings().first()
        return StoredCheckpoint(row["size"], row["root_hash"], row["note"]) if row else None

    def first_covering(self, size: int) -> StoredCheckpoint | None:
        """The earliest checkpoint that covers the first `size` events (stable once it exists)."""
        with read_transaction(self.engine) as conn:
            row = (
                conn.execute(
                    select(_checkpoints).where(_checkpoints.c.size >= size).order_by(_checkpoints.c.id).limit(1)
                )
                .mappings()
                .first()
            )
        return StoredCheckpoint(row["size"], row["root_hash"], row["note"]) if row else None

    def trusted(self, at_least: int = 0) -> list[tuple[int, bytes]]:
        """(size, root) of every checkpoint of `at_least` events or more whose signature verifies, in the
        database and beside the key."""
        out = []
        for note in self._notes(at_least):
            try:
                c = verify_checkpoint(note, self.verifier_keys, origin=self.origin)
            except CheckpointError:
                continue  # not signed by a key we hold: it proves nothing either way
            if c.size >= at_least:
                out.append((c.size, c.root))
        return sorted(set(out))

    def largest_trusted(self) -> tuple[int, bytes] | None:
        """The trusted checkpoint of the most events, checking signatures from the largest down (usually one).

        Streamed from the largest: a server signing every minute keeps many checkpoints, and this runs
        on every view of the audit page.
        """
        beside = self._state_file.read_text(encoding="utf-8") if self._state_file.exists() else None
        with read_transaction(self.engine) as conn:
            rows = conn.execute(
                select(_checkpoints.c.size, _checkpoints.c.note)
                .order_by(_checkpoints.c.size.desc(), _checkpoints.c.id.desc())
                .execution_options(yield_per=100)
            )
            for size, note in rows:
                if beside is not None and _note_size(beside) >= size:
                    found = self._trusted_note(beside)
                    beside = None
                    if found is not None:
                        return found
                found = self._trusted_note(note)
                if found is not None:
                    return found
        return self._trusted_note(beside) if beside is not None else None

    def _trusted_note(self, note: str) -> tuple[int, bytes] | None:
        try:
            c = verify_checkpoint(note, self.verifier_keys, origin=self.origin)
        except CheckpointError:
            return None
        return c.size, c.root

    def _notes(self, at_least: int) -> list[str]:
        with read_transaction(self.engine) as conn:
            notes = list(
                conn.execute(
                    select(_checkpoints.c.note).where(_checkpoints.c.size >= at_least).order_by(_checkpoints.c.id)
                ).scalars()
            )
        if self._state_file.exists():
            notes.append(self._state_file.read_text(encoding="utf-8"))
        return notes

    def all(self) -> list[StoredCheckpoint]:
        with read_transaction(self.engine) as conn:
            rows = conn.execute(select(_checkpoints).order_by(_checkpoints.c.id)).mappings().all()
        return [StoredCheckpoint(r["size"], r["root_hash"], r["note"]) for r in rows]

    def create(self) -> StoredCheckpoint:
        """Sign the current tree head, after proving it extends the previous checkpoint.

        The proof reads every leaf hash (seconds on a log of half a million events), so it runs in a
        read transaction: the events it reads never change, and appends go on meanwhile. Only the
        insert takes the head lock, and it signs nothing if another signer got in first.
        """
        for _ in range(5):
            with read_transaction(self.engine) as conn:
                head = read_head(conn)
                tree_root = frontier_root([bytes.fromhex(h) for h in head.frontier], head.size)
                previous = self._latest_row(conn)
                if previous is not None and previous["size"] == head.size:
                    if previous["root_hash"] != tree_root.hex():
                        raise LogIntegrityError(
                            f"the log's root at {head.size} events is not the one signed in the last checkpoint: "
                            "the log was rewritten; refusing to sign"
                        )
                    return StoredCheckpoint(previous["size"], previous["root_hash"], previous["note"])
                remembered = self.remembered()
                stored_frontier = previous["frontier"] if previous is not None else None
                if remembered is not None:
                    # The record beside the key outlives a database restored from an old backup.
                    same = previous is not None and (previous["size"], previous["root_hash"]) == (
                        remembered.size,
                        remembered.root.hex(),
                    )
                    self._require_extends(
                        conn, remembered.size, remembered.root, head.size, tree_root, stored_frontier if same else None
                    )
                if previous is not None:
                    self._require_extends(
                        conn,
                        previous["size"],
                        bytes.fromhex(previous["root_hash"]),
                        head.size,
                        tree_root,
                        stored_frontier,
                    )
            note = sign_checkpoint(self.origin, head.size, tree_root, self.keys)
            with write_transaction(self.engine) as conn:
                read_head(conn, lock=True)  # one signer at a time
                latest = self._latest_row(conn)
                if (latest["id"] if latest else None) != (previous["id"] if previous else None):
                    assert latest is not None
                    if latest["size"] >= head.size:
                        return StoredCheckpoint(latest["size"], latest["root_hash"], latest["note"])
                    continue  # a smaller checkpoint came in meanwhile: prove against it, then sign
                conn.execute(
                    insert(_checkpoints).values(
                        size=head.size,
                        root_hash=tree_root.hex(),
                        note=note,
                        created_at=self.clock(),
                        frontier=head.frontier,
                    )
                )
                # Before the commit: if the record beside the key cannot be written (a full disk), the
                # checkpoint is not stored either, and the operator sees why.
                self._remember(note)
            return StoredCheckpoint(head.size, tree_root.hex(), note)
        raise LogIntegrityError("checkpoints kept being signed concurrently; try again")

    @staticmethod
    def _latest_row(conn: Connection) -> Any:
        return conn.execute(select(_checkpoints).order_by(_checkpoints.c.id.desc()).limit(1)).mappings().first()

    def _require_extends(
        self,
        conn: Connection,
        old_size: int,
        old_root: bytes,
        size: int,
        new_root: bytes,
        old_frontier: Any = None,
    ) -> None:
        if size < old_size:
            raise LogIntegrityError(
                f"the log has {size} events but an earlier checkpoint signed {old_size}: refusing to sign a shorter log"
            )
        start = _checked_frontier(old_frontier, old_size, old_root)
        if start is not None:
            # The signed tree's own frontier (it gives the signed root, so it is that tree's): extended by the
            # leaves after it, it must give the root about to be signed. Reads only the new leaves; the
            # proof below read every leaf of the log, in the serving process, once a minute.
            try:
                extended = extend_frontier(conn, start, old_size, size)
            except LookupError as exc:
                raise LogIntegrityError(f"{exc}: events were removed; refusing to sign") from exc
            if frontier_root(extended, size) != new_root:
                raise LogIntegrityError(
                    f"the first {old_size} events no longer hash to the root signed in the last checkpoint: "
                    "the log was rewritten; refusing to sign"
                )
            return
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
        try:
            with open(tmp, "w", encoding="utf-8") as out:
                out.write(note)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self._state_file)
        except OSError:
            tmp.unlink(missing_ok=True)  # never leave an empty or partial record behind
            raise

    def remembered(self) -> Checkpoint | None:
        if not self._state_file.exists():
            return None
        return verify_checkpoint(self._state_file.read_text(encoding="utf-8"), self.verifier_keys, origin=self.origin)

    def startup_check(self) -> None:
        """Raise LogIntegrityError when the database is behind (or diverged from) the last signed checkpoint."""
        from engine.store.integrity import head_size_problem, stored_size

        # Under the head lock: another worker appending between reading the head and counting the
        # events would otherwise look like an altered head row (and block this worker's appends).
        with write_transaction(self.engine) as conn:
            head = read_head(conn, lock=True)
            # First: a head row that disagrees with the events is not an old backup, whatever it says.
            altered = head_size_problem(head.size, stored_size(conn))
        if altered is not None:
            raise LogIntegrityError(f"{altered}; run `decisions db check`")
        signed = self.remembered()
        if signed is None:
            return
        if head.size < signed.size:
            raise LogIntegrityError(
                f"the database holds {head.size} events but checkpoint {signed.size} was signed: "
                "it was restored from an old backup; appending would fork the log"
            )
        token = self._startup_token(signed.size, signed.root)
        if os.environ.get(STARTUP_CHECKED_ENV) == token:
            # `decisions serve` checked this very checkpoint against this database a moment ago, before
            # starting the workers: the events it covers cannot have changed since (append-only).
            self.startup_checked = token
            return
        try:
            holds = prefix_root_is(self.engine, signed.size, signed.root)
        except LookupError as exc:
            raise LogIntegrityError(f"{exc}, but checkpoint {signed.size} was signed: events were removed") from exc
        if not holds:
            raise LogIntegrityError(
                f"the first {signed.size} events do not hash to the last signed checkpoint's root: the log was altered"
            )
        self.startup_checked = token

    def _startup_token(self, size: int, signed_root: bytes) -> str:
        """Names the database and the checkpoint: a token from another database or checkpoint never matches."""
        url = self.engine.url.render_as_string(hide_password=False)
        return hashlib.sha256(f"{url}\n{size}\n{signed_root.hex()}".encode()).hexdigest()


def _checked_frontier(stored: Any, size: int, signed_root: bytes) -> list[bytes] | None:
    """A stored frontier when it has a tree's shape for `size` and gives the signed root; else None."""
    if not isinstance(stored, list) or len(stored) != size.bit_count() or size == 0:
        return None
    try:
        frontier = [bytes.fromhex(node) for node in stored]
    except (TypeError, ValueError):
        return None
    return frontier if frontier_root(frontier, size) == signed_root else None


def _note_size(note: str) -> int:
    """The size line of a note, for ordering only (the signature check decides what it proves)."""
    try:
        return parse_checkpoint(note).size
    except CheckpointError:
        return -1


def parse_note(note: str) -> Checkpoint:
    return parse_checkpoint(note)


def check_fork(a: str, b: str, verifier_keys: list[str], origin: str) -> str | None:
    """Two signed checkpoints that cannot both hold: same size, different roots (a fork).

    Returns the reason, or None when they may be consistent (a consistency proof settles that).
    """
    first = verify_checkpoint(a, verifier_keys, origin=origin)
    second = verify_checkpoint(b, verifier_keys, origin=origin)
    if first.size == second.size and first.root != second.root:
        return f"two checkpoints sign size {first.size} with different roots: the log forked"
    return None
