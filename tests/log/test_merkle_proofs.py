"""RFC 6962 golden roots, and every inclusion/consistency proof for sizes 1..64 against an independent
implementation written here from RFC 9162's definitions, plus corruption probes that must all fail."""

from __future__ import annotations

import hashlib
import importlib.util

import pytest

from engine.log.merkle import (
    consistency_proof,
    frontier_append,
    frontier_root,
    inclusion_proof,
    root,
    verify_consistency,
    verify_inclusion,
)
from tests.support import REPO

# The CT test vectors (certificate-transparency-go merkle tests): leaf inputs and the roots of the
# first n leaves for n = 0..8.
INPUTS = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
GOLDEN_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _load_script() -> object:
    spec = importlib.util.spec_from_file_location("verify_export", REPO / "tools" / "verify_export.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCRIPT = _load_script()


# -- an independent implementation, straight from RFC 9162 section 2.1 ------------------------------


def _mth(d: list[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return d[0]
    k = 1 << ((n - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(d[:k]) + _mth(d[k:])).digest()


def _path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return [*_path(m, d[:k]), _mth(d[k:])]
    return [*_path(m - k, d[k:]), _mth(d[:k])]


def _subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [_mth(d)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*_subproof(m, d[:k], b), _mth(d[k:])]
    return [*_subproof(m - k, d[k:], False), _mth(d[:k])]


LEAVES = [_leaf(i.to_bytes(2, "big")) for i in range(64)]


@pytest.mark.parametrize("size", range(9))
def test_golden_roots_service_and_script(size: int) -> None:
    leaves = [_leaf(bytes.fromhex(x)) for x in INPUTS[:size]]
    assert root(leaves).hex() == GOLDEN_ROOTS[size]
    assert _mth(leaves).hex() == GOLDEN_ROOTS[size]
    frontier: list[bytes] = []
    script_frontier: list[bytes] = []
    for i, leaf in enumerate(leaves):
        frontier = frontier_append(frontier, i, leaf)
        SCRIPT.push(script_frontier, i, leaf)  # type: ignore[attr-defined]
    assert len(frontier) == bin(size).count("1")  # the compact range: one hash per set bit of the size
    assert frontier_root(frontier, size).hex() == GOLDEN_ROOTS[size]
    assert SCRIPT.merkle_root(script_frontier, size).hex() == GOLDEN_ROOTS[size]  # type: ignore[attr-defined]


def _probes(proof: list[bytes]) -> list[tuple[str, list[bytes]]]:
    flipped = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]] if proof else []
    out = [("extra element", [*proof, LEAVES[0]])]
    if proof:
        out += [("missing element", proof[:-1]), ("flipped bit", flipped), ("reversed", proof[::-1])]
    return [(name, p) for name, p in out if p != proof]


@pytest.mark.parametrize("size", range(1, 65))
def test_inclusion_proofs_match_rfc9162_and_reject_corruption(size: int) -> None:
    leaves = LEAVES[:size]
    tree_root = root(leaves)
    for index in range(size):
        proof = inclusion_proof(leaves, index, size)
        assert proof == _path(index, leaves)
        assert verify_inclusion(leaves[index], index, size, proof, tree_root)
        for _name, bad in _probes(proof):
            assert not verify_inclusion(leaves[index], index, size, bad, tree_root)
        wrong_leaf = LEAVES[(index + 1) % 64] if size > 1 else _leaf(b"x")
        assert not verify_inclusion(wrong_leaf, index, size, proof, tree_root)
        assert not verify_inclusion(leaves[index], index, size, proof, hashlib.sha256(b"other").digest())
        for wrong_index in {index + 1, index - 1, index ^ 1} - {index}:
            if 0 <= wrong_index < size:
                assert not verify_inclusion(leaves[index], wrong_index, size, proof, tree_root)
        assert not verify_inclusion(leaves[index], index, size * 2, proof, tree_root)
        if index < size // 2:
            assert not verify_inclusion(leaves[index], index, size // 2, proof, tree_root)
        assert not verify_inclusion(leaves[index], size, size, proof, tree_root)


@pytest.mark.parametrize("new_size", range(1, 65))
def test_consistency_proofs_match_rfc9162_and_reject_corruption(new_size: int) -> None:
    leaves = LEAVES[:new_size]
    new_root = root(leaves)
    for old_size in range(1, new_size + 1):
        old_root = root(leaves[:old_size])
        proof = consistency_proof(leaves, old_size, new_size)
        assert proof == _subproof(old_size, leaves, True)
        assert verify_consistency(old_size, new_size, old_root, new_root, proof)
        for _name, bad in _probes(proof):
            assert not verify_consistency(old_size, new_size, old_root, new_root, bad)
        other = hashlib.sha256(b"other").digest()
        assert not verify_consistency(old_size, new_size, other, new_root, proof)
        if old_size != new_size:
            assert not verify_consistency(old_size, new_size, old_root, other, proof)
            assert not verify_consistency(new_size, old_size, new_root, old_root, proof)  # sizes swapped
        if old_size * 2 <= new_size and old_size != new_size // 2:
            assert not verify_consistency(old_size * 2, new_size, old_root, new_root, proof)
        if old_size > 1 and old_size != new_size:
            assert not verify_consistency(old_size // 2, new_size, old_root, new_root, proof)


@pytest.mark.parametrize("size", range(1, 65))
def test_precomputed_levels_give_the_rfc_paths(size: int) -> None:
    from engine.log.merkle import MerkleLevels

    levels = MerkleLevels(LEAVES[:size])
    assert levels.root() == _mth(LEAVES[:size])
    for index in range(size):
        assert levels.path(index) == _path(index, LEAVES[:size])
