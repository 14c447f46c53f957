"""The audit log's Merkle tree, as RFC 6962 section 2.1 and RFC 9162 section 2.1 define it.

Leaf hash = SHA-256(0x00 || leaf), interior node = SHA-256(0x01 || left || right), the empty tree's
root is SHA-256 of nothing. Proofs are built (RFC 6962 2.1.1 PATH, 2.1.2 SUBPROOF) from hashes of
complete subtrees that the sequencer stores, and checked with the RFC 9162 2.1.3.2 and 2.1.4.2
algorithms, which an auditor can repeat in a few lines of any language (docs/audit.md).

Nothing here touches the database: `subtree` is whatever looks up the hash of the complete
subtree at (level, index), i.e. of leaves [index * 2**level, (index + 1) * 2**level).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

Subtree = Callable[[int, int], bytes]

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(*, event_id: int, row_hash: str) -> bytes:
    """The leaf is the event's id (8 bytes, big-endian) and its content hash: the log binds each id to its content."""
    return hashlib.sha256(b"\x00" + event_id.to_bytes(8, "big") + bytes.fromhex(row_hash)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


# --- Appending: the frontier is the list of complete subtrees that make up the tree, largest first ---

Frontier = list[tuple[int, bytes]]


def frontier_append(frontier: Frontier, leaf: bytes, *, size: int) -> list[tuple[int, int, bytes]]:
    """Add the leaf at index `size`; returns the complete subtrees (level, index, hash) this finishes, level >= 1."""
    frontier.append((0, leaf))
    end = size + 1
    made: list[tuple[int, int, bytes]] = []
    while len(frontier) >= 2 and frontier[-1][0] == frontier[-2][0]:
        level, right = frontier.pop()
        _, left = frontier.pop()
        parent = node_hash(left, right)
        frontier.append((level + 1, parent))
        made.append((level + 1, (end >> (level + 1)) - 1, parent))
    return made


def frontier_root(frontier: Sequence[tuple[int, bytes]]) -> bytes:
    if not frontier:
        return EMPTY_ROOT
    root = frontier[-1][1]
    for _, left in reversed(frontier[:-1]):
        root = node_hash(left, root)
    return root


# --- Proofs, from stored complete subtrees ---

def range_hash(subtree: Subtree, lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) for a range that starts on a multiple of the largest power of two below its width."""
    n = hi - lo
    if n & (n - 1) == 0 and lo % n == 0:
        level = n.bit_length() - 1
        return subtree(level, lo >> level)
    k = _split(n)
    return node_hash(range_hash(subtree, lo, lo + k), range_hash(subtree, lo + k, hi))


def inclusion_path(subtree: Subtree, *, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]), the leaf's sibling first."""
    if not 0 <= index < size:
        raise ValueError("leaf index outside the tree")
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append(range_hash(subtree, lo + k, hi))
            hi = lo + k
        else:
            path.append(range_hash(subtree, lo, lo + k))
            lo += k
    return list(reversed(path))


def consistency_proof(subtree: Subtree, *, first: int, second: int) -> list[bytes]:
    """PROOF(first, D[0:second]): that the tree of size `second` extends the one of size `first`."""
    if not 0 <= first <= second:
        raise ValueError("sizes out of order")
    if first == 0 or first == second:
        return []
    proof: list[bytes] = []
    lo, hi, whole = 0, second, True
    while first != hi:  # `first` leaves of D[lo:hi] belong to the old tree
        k = _split(hi - lo)
        if first - lo <= k:
            proof.append(range_hash(subtree, lo + k, hi))
            hi = lo + k
        else:
            proof.append(range_hash(subtree, lo, lo + k))
            lo += k
            whole = False
    if not whole:
        proof.append(range_hash(subtree, lo, hi))
    return list(reversed(proof))


# --- Verification (RFC 9162 2.1.3.2 and 2.1.4.2) ---

def _lsb(n: int) -> bool:
    return n & 1 == 1


def _climb(fn: int, sn: int) -> tuple[bool, int, int]:
    """One step of both verifications: whether the proof's next node is the left sibling (the path is a right
    child, or the last node of its level), and the node indices (fn, sn) one level up; a left sibling also
    skips the levels where the path was a left child with no right sibling."""
    on_left = _lsb(fn) or fn == sn
    if on_left:
        while not _lsb(fn) and fn != 0:
            fn >>= 1
            sn >>= 1
    return on_left, fn >> 1, sn >> 1


def root_from_inclusion(*, leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        on_left, fn, sn = _climb(fn, sn)
        r = node_hash(p, r) if on_left else node_hash(r, p)
    return r if sn == 0 else None


def consistent(*, first: int, first_root: bytes, second: int, second_root: bytes, proof: Sequence[bytes]) -> bool:
    if first > second:
        return False
    if first == 0:
        return not proof
    if first == second:
        return not proof and first_root == second_root
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while _lsb(fn):
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        on_left, fn, sn = _climb(fn, sn)
        if on_left:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
        else:
            sr = node_hash(sr, c)
    return sn == 0 and fr == first_root and sr == second_root
