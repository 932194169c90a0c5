"""Proofs for a filtered export: each exported event's RFC 9162 inclusion proof against a signed checkpoint.

A filtered export (one category, one tier, a date range) is not a contiguous chain, so the
chain cannot vouch for it; the checkpoint's Merkle root can. The bundle carries the signed
note, and for every exported event at a position the checkpoint covers, its audit path.
Events appended after that checkpoint are listed as not yet provable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import cast

import msgspec
from sqlalchemy import Engine

from engine.errors import Conflict
from engine.log.export import ExportFilter, iter_rows
from engine.log.merkle import MerkleLevels, verify_inclusion
from engine.log.proofs import leaf_hashes
from engine.store.db import read_transaction

FORMAT = "decision-rights inclusion proofs v1"


class EventProof(msgspec.Struct, kw_only=True):
    seq: int
    leaf_hash: str
    inclusion_path: list[str]


class ProofBundle(msgspec.Struct, kw_only=True):
    format: str
    checkpoint: str
    tree_size: int
    proofs: list[EventProof]
    #: Exported events past the checkpoint: sign a newer checkpoint to prove them.
    after_checkpoint: list[int]


def build_bundle(engine: Engine, checkpoint_note: str | None, tree_size: int, flt: ExportFilter) -> ProofBundle:
    if checkpoint_note is None:
        raise Conflict("no checkpoint has been signed yet: sign one (decisions log checkpoint) to prove an export")
    with read_transaction(engine) as conn:
        levels = MerkleLevels(leaf_hashes(conn, tree_size))
    proofs, after = [], []
    for row in iter_rows(engine, flt):
        if row.seq < tree_size:
            proofs.append(
                EventProof(seq=row.seq, leaf_hash=row.leaf_hash, inclusion_path=[h.hex() for h in levels.path(row.seq)])
            )
        else:
            after.append(row.seq)
    return ProofBundle(
        format=FORMAT, checkpoint=checkpoint_note, tree_size=tree_size, proofs=proofs, after_checkpoint=after
    )


class BundleResult(msgspec.Struct, kw_only=True):
    ok: bool
    proven: int
    unproven: list[int]
    first_bad_seq: int | None = None
    reason: str | None = None


def verify_bundle(lines: Iterable[bytes], bundle: ProofBundle, verifier_keys: list[str]) -> BundleResult:
    """Every exported line is canonical and included in the signed tree (or listed as after it)."""
    from engine.log.canonical import canonical_bytes
    from engine.log.checkpoint import CheckpointError, verify_checkpoint

    try:
        checkpoint = verify_checkpoint(bundle.checkpoint, verifier_keys)
    except CheckpointError as exc:
        return BundleResult(ok=False, proven=0, unproven=[], reason=f"the checkpoint does not verify: {exc}")
    if checkpoint.size != bundle.tree_size:
        return BundleResult(ok=False, proven=0, unproven=[], reason="the bundle's tree size is not the checkpoint's")
    by_seq = {p.seq: p for p in bundle.proofs}
    after = set(bundle.after_checkpoint)
    proven, unproven = 0, cast(list[int], [])
    for raw in lines:
        line = raw.rstrip(b"\n")
        if not line:
            continue
        try:
            body = msgspec.json.decode(line)
            seq = body["seq"]
            canonical = canonical_bytes(body) == line
        except (ValueError, KeyError, TypeError):
            return BundleResult(ok=False, proven=proven, unproven=unproven, reason="a line is not an event body")
        if not canonical:
            return BundleResult(ok=False, proven=proven, unproven=unproven, first_bad_seq=seq,
                                reason="non-canonical bytes")  # fmt: skip
        if body["log"] != checkpoint.origin:
            return BundleResult(ok=False, proven=proven, unproven=unproven, first_bad_seq=seq,
                                reason=f"the event belongs to the log {body['log']!r}")  # fmt: skip
        if seq >= checkpoint.size and seq in after:
            unproven.append(seq)
            continue
        proof = by_seq.get(seq)
        leaf = hashlib.sha256(b"\x00" + line).digest()
        if proof is None or proof.leaf_hash != leaf.hex():
            return BundleResult(ok=False, proven=proven, unproven=unproven, first_bad_seq=seq,
                                reason="no proof for this event, or the event's bytes were changed")  # fmt: skip
        path = [bytes.fromhex(h) for h in proof.inclusion_path]
        if not verify_inclusion(leaf, seq, checkpoint.size, path, checkpoint.root):
            return BundleResult(ok=False, proven=proven, unproven=unproven, first_bad_seq=seq,
                                reason="the inclusion proof does not lead to the checkpoint's root")  # fmt: skip
        proven += 1
    return BundleResult(ok=True, proven=proven, unproven=unproven)
