"""The RFC 6962 (RFC 9162 section 2.1) Merkle tree over the ledger's envelope hashes.

The leaves are the envelopes' chain hashes (``Envelope.hash``, 32 bytes) in
position order, every envelope of every run: ``leaf_hash(h) = SHA-256(0x00 || h)``,
``node_hash(l, r) = SHA-256(0x01 || l || r)``, and the root of ``n`` leaves is
``MTH`` as the RFC defines it (split at the largest power of two below ``n``).

``Frontier`` keeps the root of a growing tree in O(log n) space: the roots of
the perfect subtrees that make up the first ``n`` leaves (the binary digits of
``n``, largest first). Appending a leaf merges equal-sized subtrees; the tree's
root folds them right to left. The writer keeps one in the MANIFEST, extended
at every seal, so a checkpoint never needs the whole ledger read again.

``inclusion_proof`` and ``verify_inclusion`` are the audit path of RFC 9162
section 2.1.3: what ``chatsnapshot prove`` prints and ``verify-proof`` checks
with nothing but the checkpoint, the envelope and the proof.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Frontier", "inclusion_proof", "leaf_hash", "node_hash", "root", "verify_inclusion"]

_EMPTY = hashlib.sha256(b"").digest()


def leaf_hash(envelope_hash: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + envelope_hash).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH of already-hashed leaves (``leaf_hash`` of each envelope hash)."""
    n = len(leaves)
    if n == 0:
        return _EMPTY
    if n == 1:
        return leaves[0]
    k = 1 << ((n - 1).bit_length() - 1)  # the largest power of two below n
    return node_hash(root(leaves[:k]), root(leaves[k:]))


@dataclass(frozen=True)
class Frontier:
    """The first ``size`` leaves of a tree, as the roots of its perfect subtrees (largest first)."""

    size: int = 0
    subtrees: tuple[bytes, ...] = ()

    def extend(self, envelope_hashes: Iterable[bytes]) -> Frontier:
        """The frontier after appending these envelopes' leaves, in position order."""
        size, stack = self.size, list(self.subtrees)
        for h in envelope_hashes:
            node = hashlib.sha256(b"\x00" + h).digest()
            size += 1
            merges = (size & -size).bit_length() - 1  # trailing zero bits of the new size
            for _ in range(merges):
                node = hashlib.sha256(b"\x01" + stack.pop() + node).digest()
            stack.append(node)
        return Frontier(size, tuple(stack))

    def root(self) -> bytes:
        if not self.subtrees:
            return _EMPTY
        acc = self.subtrees[-1]
        for subtree in reversed(self.subtrees[:-1]):
            acc = node_hash(subtree, acc)
        return acc

    def to_json(self) -> dict[str, object]:
        return {"size": self.size, "subtrees": [s.hex() for s in self.subtrees]}

    @classmethod
    def from_json(cls, doc: dict[str, object]) -> Frontier:
        size, subtrees = doc["size"], doc["subtrees"]
        assert isinstance(size, int) and isinstance(subtrees, list)
        frontier = cls(size, tuple(bytes.fromhex(s) for s in subtrees))
        if len(frontier.subtrees) != frontier.size.bit_count():
            raise ValueError(f"a frontier of {size} leaves has {size.bit_count()} subtrees, not {len(subtrees)}")
        return frontier


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``leaves`` (RFC 9162 PATH)."""
    n = len(leaves)
    if not 0 <= index < n:
        raise ValueError(f"leaf {index} is not in a tree of {n}")
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if index < k:
        return [*inclusion_proof(leaves[:k], index), root(leaves[k:])]
    return [*inclusion_proof(leaves[k:], index - k), root(leaves[:k])]


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes) -> bool:
    """Whether ``proof`` shows ``leaf`` (a leaf hash) at ``index`` of the tree of ``size``
    leaves whose root is ``expected_root`` (RFC 9162 section 2.1.3.2)."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root
