"""The Merkle code at its edges: empty trees, old size 0, index == size, empty and swapped proofs.

Written to kill the mutants that the RFC sweep in test_merkle_proofs.py leaves alive
(docs/mutation.md): each assertion is a behaviour a verifier or an auditor relies on.
"""

from __future__ import annotations

import hashlib

import pytest

from engine.log.merkle import (
    EMPTY_ROOT,
    MerkleLevels,
    consistency_proof,
    inclusion_proof,
    root,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [hashlib.sha256(b"\x00" + bytes([i])).digest() for i in range(8)]


def test_an_empty_tree_has_the_empty_root_everywhere() -> None:
    assert root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert MerkleLevels([]).root() == EMPTY_ROOT
    with pytest.raises(ValueError, match=r"^index outside the tree$"):
        MerkleLevels([]).path(0)


@pytest.mark.parametrize("size", [1, 2, 5, 8])
def test_an_index_equal_to_the_size_is_outside_the_tree(size: int) -> None:
    with pytest.raises(ValueError, match=r"^index must be below size, and size at most the number of leaves$"):
        inclusion_proof(LEAVES, size, size)
    with pytest.raises(ValueError, match=r"^index outside the tree$"):
        MerkleLevels(LEAVES[:size]).path(size)
    proof = inclusion_proof(LEAVES, size - 1, size)
    assert not verify_inclusion(LEAVES[size - 1], size, size, proof, root(LEAVES[:size]))


@pytest.mark.parametrize("new_size", [0, 1, 3, 8])
def test_the_empty_tree_is_consistent_with_every_tree_by_an_empty_proof(new_size: int) -> None:
    assert consistency_proof(LEAVES, 0, new_size) == []
    new_root = root(LEAVES[:new_size])
    assert verify_consistency(0, new_size, EMPTY_ROOT, new_root, [])
    if new_size:
        assert not verify_consistency(0, new_size, EMPTY_ROOT, new_root, [LEAVES[0]])


def test_sizes_out_of_range_are_refused_with_the_rule_in_words() -> None:
    for old, new in [(-1, 3), (4, 3), (2, 9)]:
        with pytest.raises(ValueError, match=r"^need 0 <= old_size <= new_size <= number of leaves$"):
            consistency_proof(LEAVES, old, new)
    with pytest.raises(ValueError, match="index must be below size"):
        inclusion_proof(LEAVES, -1, 3)


def test_an_empty_proof_proves_nothing_between_different_sizes() -> None:
    for old, new in [(3, 5), (5, 8), (6, 7), (1, 2), (2, 4)]:
        assert not verify_consistency(old, new, root(LEAVES[:old]), root(LEAVES[:new]), [])


def test_a_larger_old_tree_is_never_consistent_with_a_smaller_new_one() -> None:
    # Equal roots and an empty proof: the size check alone refuses it.
    same = root(LEAVES[:2])
    assert not verify_consistency(2, 1, same, same, [])
    assert not verify_consistency(-1, 4, EMPTY_ROOT, root(LEAVES[:4]), [])
    assert not verify_consistency(-2, 4, LEAVES[0], root(LEAVES[:4]), consistency_proof(LEAVES, 2, 4))


def test_equal_sizes_need_equal_roots_and_no_proof() -> None:
    r = root(LEAVES[:5])
    assert consistency_proof(LEAVES, 5, 5) == []
    assert verify_consistency(5, 5, r, r, [])
    assert not verify_consistency(5, 5, r, r, [LEAVES[0]])
    assert not verify_consistency(5, 5, r, root(LEAVES[:4]), [])
