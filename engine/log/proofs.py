"""RFC 9162 inclusion and consistency proofs over the stored log."""

from __future__ import annotations

import msgspec
from sqlalchemy import Connection, Engine, select

from engine.errors import InvalidInput
from engine.log.appender import read_head
from engine.log.merkle import consistency_proof, inclusion_proof, root
from engine.store.db import read_transaction
from engine.store.tables import Event
from policy.compiled import FieldError

_events = Event.__table__  # type: ignore[attr-defined]


def leaf_hashes(conn: Connection, size: int) -> list[bytes]:
    """The first `size` leaf hashes, in order (32 bytes each: 32 MB per million events)."""
    # Statement-level option: Connection.execution_options() would change the connection in place, and
    # on PostgreSQL every later statement of the transaction would then run through a server-side cursor.
    query = select(_events.c.leaf_hash).where(_events.c.seq < size).order_by(_events.c.seq)
    rows = conn.execute(query.execution_options(yield_per=20000))
    return [bytes.fromhex(h) for (h,) in rows]


class InclusionProof(msgspec.Struct, kw_only=True):
    leaf_index: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    #: Hex hashes, from the leaf's sibling up (RFC 9162 `inclusion_path`).
    inclusion_path: list[str]


class ConsistencyProof(msgspec.Struct, kw_only=True):
    first_tree_size: int
    second_tree_size: int
    first_root_hash: str
    second_root_hash: str
    consistency_path: list[str]


def _size_or_head(engine: Engine, size: int | None, name: str) -> tuple[int, list[bytes]]:
    with read_transaction(engine) as conn:
        head = read_head(conn)
        size = head.size if size is None else size
        if not 0 <= size <= head.size:
            raise InvalidInput([FieldError(f"$.query.{name}", f"must be between 0 and the log's size {head.size}")])
        return size, leaf_hashes(conn, size)


def prove_inclusion(engine: Engine, seq: int, size: int | None = None) -> InclusionProof:
    size, leaves = _size_or_head(engine, size, "size")
    if not 0 <= seq < size:
        raise InvalidInput([FieldError("$.query.seq", f"must be below the tree size {size}")])
    return InclusionProof(
        leaf_index=seq,
        tree_size=size,
        leaf_hash=leaves[seq].hex(),
        root_hash=root(leaves).hex(),
        inclusion_path=[h.hex() for h in inclusion_proof(leaves, seq, size)],
    )


def prove_consistency(engine: Engine, first: int, second: int | None = None) -> ConsistencyProof:
    second, leaves = _size_or_head(engine, second, "to")
    if not 0 <= first <= second:
        raise InvalidInput([FieldError("$.query.from", f"must be between 0 and {second}")])
    return ConsistencyProof(
        first_tree_size=first,
        second_tree_size=second,
        first_root_hash=root(leaves[:first]).hex(),
        second_root_hash=root(leaves).hex(),
        consistency_path=[h.hex() for h in consistency_proof(leaves, first, second)],
    )
