"""RFC 6962 / RFC 9162 Merkle tree over leaf hashes (leaf prefix 0x00 applied by the caller)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def subtree_hash(leaves: Sequence[bytes], start: int, end: int) -> bytes:
    n = end - start
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[start]
    k = _split(n)
    return node_hash(subtree_hash(leaves, start, start + k), subtree_hash(leaves, start + k, end))


def root(leaves: Sequence[bytes]) -> bytes:
    return subtree_hash(leaves, 0, len(leaves))


def frontier_append(frontier: list[bytes], size: int, leaf: bytes) -> list[bytes]:
    """Add a leaf to the compact range covering [0, size): roots of perfect subtrees, leftmost first."""
    result = list(frontier)
    node = leaf
    n = size
    while n & 1:
        node = node_hash(result.pop(), node)
        n >>= 1
    result.append(node)
    return result


def frontier_root(frontier: Sequence[bytes], size: int) -> bytes:
    if size == 0:
        return EMPTY_ROOT
    node = frontier[-1]
    for sibling in reversed(frontier[:-1]):
        node = node_hash(sibling, node)
    return node


def inclusion_proof(leaves: Sequence[bytes], index: int, size: int) -> list[bytes]:
    if not 0 <= index < size <= len(leaves):
        raise ValueError("index must be below size, and size at most the number of leaves")
    return _path(leaves, index, 0, size)


def _path(leaves: Sequence[bytes], m: int, start: int, end: int) -> list[bytes]:
    n = end - start
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(leaves, m, start, start + k), subtree_hash(leaves, start + k, end)]
    return [*_path(leaves, m - k, start + k, end), subtree_hash(leaves, start, start + k)]


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if index >= size or index < 0:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def consistency_proof(leaves: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    if not 0 <= old_size <= new_size <= len(leaves):
        raise ValueError("need 0 <= old_size <= new_size <= number of leaves")
    if old_size == 0 or old_size == new_size:
        return []
    return _subproof(leaves, old_size, 0, new_size, True)


def _subproof(leaves: Sequence[bytes], m: int, start: int, end: int, complete: bool) -> list[bytes]:
    n = end - start
    if m == n:
        return [] if complete else [subtree_hash(leaves, start, end)]
    k = _split(n)
    if m <= k:
        return [*_subproof(leaves, m, start, start + k, complete), subtree_hash(leaves, start + k, end)]
    return [*_subproof(leaves, m - k, start + k, end, False), subtree_hash(leaves, start, start + k)]


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if old_size < 0 or old_size > new_size:
        return False
    if old_size == new_size:
        return len(proof) == 0 and old_root == new_root
    if old_size == 0:
        return len(proof) == 0
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path = [old_root, *path]
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


class MerkleLevels:
    """Every level of the tree over `leaves`, for many inclusion proofs at once (O(log n) each).

    A lone last node is carried up a level unchanged, which gives exactly RFC 6962's tree
    (split at the largest power of two below n); a test checks the paths against the recursive
    definition for every size up to 64.
    """

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.size = len(leaves)
        self.levels: list[list[bytes]] = [list(leaves)]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            above = [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            if len(below) % 2:
                above.append(below[-1])
            self.levels.append(above)

    def root(self) -> bytes:
        return self.levels[-1][0] if self.size else EMPTY_ROOT

    def path(self, index: int) -> list[bytes]:
        if not 0 <= index < self.size:
            raise ValueError("index outside the tree")
        out = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                out.append(level[sibling])
            index >>= 1
        return out
