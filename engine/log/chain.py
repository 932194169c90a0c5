"""Chain verification, shared by the service (database rows) and offline exports (JSONL lines).

Streams: constant memory whatever the log's size (a Merkle frontier gives the root).
The first failure stops verification and names the seq and a specific reason.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec

from engine.log.canonical import (
    BODY_KEYS,
    FORMAT_VERSION,
    GENESIS_PREV,
    canonical_bytes,
    format_at,
    leaf_hash,
    parse_at,
)
from engine.log.merkle import frontier_root

QUERY_COLUMNS = ("decision_id", "type", "actor", "at")
_sorted = msgspec.json.Encoder(order="sorted")
_sha256 = hashlib.sha256
_AT_SHAPE = re.compile(r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{6}Z\Z")


def same_instant(stored: Any, at: str) -> bool:
    """Whether a time column spelled another way (by hand, or by another tool) names the body's instant."""
    if not isinstance(stored, str):
        return False
    try:
        moment = datetime.fromisoformat(stored)
    except ValueError:
        return False
    return format_at(moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)) == at


class Record(NamedTuple):
    """One stored or exported event, as the verifier reads it (a tuple: built once per event)."""

    seq: int
    body: bytes
    leaf_hash: str | None = None
    prev_hash: str | None = None
    #: Stored query columns, in QUERY_COLUMNS order (at as the canonical string), checked against the body.
    columns: tuple[Any, ...] | None = None


class VerifyResult(msgspec.Struct, kw_only=True):
    ok: bool
    size: int
    head_hash: str
    first_bad_seq: int | None = None
    reason: str | None = None
    #: Hex RFC 6962 root of the verified prefix.
    root: str | None = None


class _Bad(Exception):
    pass


class ChainVerifier:
    """Feed records in order; `result()` says whether everything fed so far holds."""

    def __init__(self, origin: str | None = None, watch: Iterable[int] = ()) -> None:
        self.origin = origin
        #: Tree sizes whose roots are recorded on the way (the sizes of signed checkpoints).
        self.watch = frozenset(watch)
        self.roots_at: dict[int, bytes] = {}
        self.size = 0
        self.prev = GENESIS_PREV
        self.last_at: str | None = None
        self.frontier: list[bytes] = []
        self.failure: tuple[int, str] | None = None
        #: Set by the decoder when a body holds a float: floats are where msgspec and the stdlib differ.
        self._saw_float = False
        self._decoder = msgspec.json.Decoder(float_hook=self._float)

    @classmethod
    def resume(
        cls,
        origin: str | None,
        size: int,
        prev: str,
        frontier: list[bytes],
        last_at: str | None,
        watch: Iterable[int] = (),
    ) -> ChainVerifier:
        """Continue after a prefix verified earlier: its size, head leaf hash, Merkle frontier and last time.

        The caller vouches for the prefix (engine/log/incremental.py anchors it on a signed checkpoint);
        a frontier of the wrong shape for `size` is refused here, as no tree has it.
        """
        if len(frontier) != size.bit_count() or any(len(node) != 32 for node in frontier):
            raise ValueError(f"a Merkle frontier of {size} leaves has {size.bit_count()} hashes of 32 bytes")
        verifier = cls(origin, watch)
        verifier.size, verifier.prev, verifier.frontier, verifier.last_at = size, prev, list(frontier), last_at
        return verifier

    def _float(self, text: str) -> float:
        self._saw_float = True
        return float(text)

    def feed(self, record: Record) -> bool:
        if self.failure is not None:
            return False
        if self.size in self.watch:
            self.roots_at[self.size] = self.root()
        try:
            self._check(record)
        except _Bad as bad:
            self.failure = (self.size, str(bad))
            return False
        return True

    def _check(self, record: Record) -> None:
        position = self.size
        if record.seq != position:
            raise _Bad(
                f"expected seq {position} next, found the row stored as seq {record.seq} (missing or extra event)"
            )
        self._saw_float = False
        try:
            # msgspec parses 3x faster than the stdlib and yields the same objects.
            body = self._decoder.decode(record.body)
        except ValueError as exc:
            raise _Bad(f"the body is not UTF-8 JSON: {exc}") from exc
        if not isinstance(body, dict) or body.keys() != BODY_KEYS:
            raise _Bad(f"the body must be an object with exactly the keys {sorted(BODY_KEYS)}")
        if self._saw_float or _sorted.encode(body) != record.body:
            # The specification (stdlib json.dumps) decides. msgspec's sorted encoder writes the same
            # bytes for every value but floats (tests/log/test_canonical_fast_path.py checks every
            # code point, key order and integer size), so it may only ever accept, never reject.
            try:
                canonical = canonical_bytes(body)
            except ValueError as exc:
                raise _Bad(f"the body cannot be encoded canonically: {exc}") from exc
            if canonical != record.body:
                raise _Bad("non-canonical bytes: re-encoding the body does not give the stored bytes")
        # `type(..) is int`: true == 1 in Python, and a forged `"seq": true` must not pass for 1.
        if type(body["v"]) is not int or body["v"] != FORMAT_VERSION:
            raise _Bad(f"unknown format version {json.dumps(body['v'])}")
        if self.origin is not None and body["log"] != self.origin:
            raise _Bad(f"the event belongs to the log {body['log']!r}, not {self.origin!r}")
        # Without a named origin the first event's is the log's: one export never mixes two logs.
        self.origin = body["log"]
        if type(body["seq"]) is not int or body["seq"] != position:
            raise _Bad(
                f"the body says seq {json.dumps(body['seq'])} at position {position} "
                "(events deleted, inserted or swapped)"
            )
        if body["prev"] != self.prev:
            raise _Bad(f"prev is {body['prev'][:16]}…, but the previous event's leaf hash is {self.prev[:16]}…")
        leaf = leaf_hash(record.body)
        leaf_hex = leaf.hex()
        if record.leaf_hash is not None and record.leaf_hash != leaf_hex:
            raise _Bad("the stored leaf hash does not match the hash of the body (the body was changed)")
        if record.prev_hash is not None and record.prev_hash != body["prev"]:
            raise _Bad("the stored prev_hash column does not match the body's prev")
        # The exact shape by regular expression (strptime per event was a third of verification's time);
        # only days past the 28th can still be impossible (30 February), and those get the full parse.
        at = body["at"]
        if not isinstance(at, str) or _AT_SHAPE.match(at) is None:
            raise _Bad(f"at is not a canonical UTC time: {at!r}")
        if at[8:10] > "28":
            try:
                parse_at(at)
            except ValueError as exc:
                raise _Bad(f"at is not a canonical UTC time: {at!r}") from exc
        if self.last_at is not None and body["at"] < self.last_at:
            raise _Bad(f"at {body['at']} is earlier than the previous event's {self.last_at} (backdated)")
        if record.columns is not None and record.columns != (body["decision_id"], body["type"], body["actor"], at):
            for column, stored in zip(QUERY_COLUMNS, record.columns, strict=True):
                if stored != body[column] and not (column == "at" and same_instant(stored, at)):
                    raise _Bad(f"the stored {column} column ({stored!r}) disagrees with the body ({body[column]!r})")
        # frontier_append in place: a verifier owns its frontier, and copying it per event showed.
        frontier, node, n = self.frontier, leaf, position
        while n & 1:
            node = _sha256(b"\x01" + frontier.pop() + node).digest()
            n >>= 1
        frontier.append(node)
        self.size += 1
        self.prev = leaf_hex
        self.last_at = body["at"]

    def root(self) -> bytes:
        return frontier_root(self.frontier, self.size)

    def against(self, checkpoints: Iterable[tuple[int, bytes]]) -> VerifyResult:
        """The result, also requiring the verified prefix to reproduce every signed (size, root)."""
        result = self.result()
        if not result.ok:
            return result
        if self.size in self.watch:
            self.roots_at[self.size] = self.root()
        for size, signed_root in sorted(checkpoints):
            at = self.roots_at.get(size)
            if at is None:
                return msgspec.structs.replace(
                    result,
                    ok=False,
                    first_bad_seq=self.size,
                    reason=f"the log ends at {self.size} events but a checkpoint signed {size}: "
                    "events are missing from the tail",
                )
            if at != signed_root:
                return msgspec.structs.replace(
                    result,
                    ok=False,
                    reason=f"the first {size} events do not hash to the checkpoint's root: "
                    "the history was rewritten since it was signed",
                )
        return result

    def result(self) -> VerifyResult:
        if self.failure is not None:
            seq, reason = self.failure
            return VerifyResult(
                ok=False,
                size=self.size,
                head_hash=self.prev,
                first_bad_seq=seq,
                reason=reason,
                root=self.root().hex(),
            )
        return VerifyResult(ok=True, size=self.size, head_hash=self.prev, root=self.root().hex())


def verify_chain(
    records: Iterable[Record],
    origin: str | None = None,
    progress: Callable[[int], None] | None = None,
    checkpoints: Iterable[tuple[int, bytes]] = (),
) -> VerifyResult:
    """Verify records in order, and against signed (size, root) pairs when given."""
    checkpoints = list(checkpoints)
    verifier = ChainVerifier(origin, watch=[size for size, _ in checkpoints])
    for record in records:
        if not verifier.feed(record):
            break
        if progress and verifier.size % 10000 == 0:
            progress(verifier.size)
    return verifier.against(checkpoints)


def verify_export(
    lines: Iterable[bytes],
    checkpoint_text: str | None = None,
    verifier_keys: list[str] | None = None,
    origin: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> VerifyResult:
    """Verify a JSONL export (one stored body per line), optionally against a signed checkpoint.

    Against a checkpoint, the first `size` events must hash to its root: a rewritten
    history (even with every hash recomputed) or a truncated tail is caught here.
    """
    checkpoints: list[tuple[int, bytes]] = []
    if checkpoint_text is not None:
        from engine.log.checkpoint import CheckpointError, verify_checkpoint

        try:
            checkpoint = verify_checkpoint(checkpoint_text, verifier_keys or [], origin=origin)
        except CheckpointError as exc:
            return VerifyResult(
                ok=False,
                size=0,
                head_hash=GENESIS_PREV,
                first_bad_seq=None,
                reason=f"the checkpoint does not verify: {exc}",
            )
        checkpoints.append((checkpoint.size, checkpoint.root))
        origin = checkpoint.origin
    records = (
        Record(seq=index, body=line[:-1] if line.endswith(b"\n") else line)
        for index, line in enumerate(line for line in lines if line.strip())
    )
    return verify_chain(records, origin, progress, checkpoints)
