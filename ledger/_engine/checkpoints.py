"""Checkpoints on disk, and the Merkle leaves they commit to.

The writer keeps the tree's ``Frontier`` in the MANIFEST (``tree``), extended by
every seal, and after each seal writes a checkpoint of the sealed ledger to
``checkpoints/<tree size>.note`` (signed; ``.unsigned`` when no key is configured),
keeping the newest ``checkpoints_kept``. Copy them anywhere; ``verify
--checkpoint`` proves that the ledger still extends one.

``leaves`` reads every envelope hash in position order (the ``position`` and
``hash`` columns of each segment, then the unsealed tail): what ``prove`` and
``verify --checkpoint`` recompute the tree from.
"""

from __future__ import annotations

from operator import attrgetter
from pathlib import Path

import numpy as np

from chatsnapshot.errors import CheckpointError
from chatsnapshot.ledger._engine.layout import Layout
from chatsnapshot.ledger._engine.manifest import Manifest
from chatsnapshot.ledger._engine.segment import table_to_records
from chatsnapshot.ledger._engine.snapshot import Snapshot
from chatsnapshot.ledger.checkpoint import Checkpoint, SigningKey, sign
from chatsnapshot.ledger.fsutil import write_atomic
from chatsnapshot.ledger.merkle import Frontier, inclusion_proof, leaf_hash
from chatsnapshot.ledger.merkle import root as merkle_root
from chatsnapshot.ledger.records import HASH, POSITION, Record, digest

__all__ = [
    "audit_path", "checkpoint_of", "latest_checkpoint", "leaves", "origin_of", "recomputed_frontier", "sealed_frontier",
    "write_checkpoint",
]

_SIGNED, _UNSIGNED = ".note", ".unsigned"  # a signed note; the checkpoint text alone


def origin_of(manifest: Manifest) -> str:
    return f"chatsnapshot.ledger/{manifest.ledger_id}"


def checkpoint_of(manifest: Manifest, frontier: Frontier) -> Checkpoint:
    return Checkpoint(origin_of(manifest), frontier.size, frontier.root())


def leaves(snap: Snapshot) -> tuple[np.ndarray, list[bytes]]:
    """Every stored envelope's position and hash, in position order (the tree's leaves)."""
    positions: list[np.ndarray] = []
    hashes: list[bytes] = []
    for seg in snap.segments:
        if seg.file is None:
            continue  # quarantined: its envelopes are missing (verify says so); the tree cannot include them
        table = seg.file.read_columns(["position", "hash"])
        order = np.argsort(table.column("position").to_numpy(), kind="stable")
        positions.append(table.column("position").to_numpy()[order])
        column = table.column("hash").combine_chunks()
        hashes.extend(column.take(order).to_pylist())
    unsealed = sorted(snap.unsealed(), key=lambda r: r[POSITION])
    positions.append(np.array([r[POSITION] for r in unsealed], dtype=np.int64))
    hashes.extend(r[HASH] for r in unsealed)
    return (np.concatenate(positions) if positions else np.array([], np.int64)), hashes


def recomputed_frontier(snap: Snapshot, size: int) -> tuple[Frontier, int]:
    """The frontier of the first ``size`` envelopes with every leaf recomputed from the envelope's
    content (not its stored hash), one segment at a time; and how many envelopes there are."""
    frontier, total = Frontier(), 0
    for seg in snap.segments:
        if seg.file is None:
            continue
        leaves_here: list[tuple[int, bytes]] = []  # (position, recomputed hash): segments are sorted by run
        for group in range(seg.file.num_row_groups):
            leaves_here += ((r.position, digest(r)) for r in table_to_records(seg.file.read_row_group(group)))
        leaves_here.sort()
        total += len(leaves_here)
        frontier = frontier.extend(h for _, h in leaves_here[:max(0, size - frontier.size)])
    unsealed = sorted((Record._make(r) for r in snap.unsealed()), key=attrgetter("position"))
    total += len(unsealed)
    frontier = frontier.extend(digest(r) for r in unsealed[:max(0, size - frontier.size)])
    return frontier, total


def sealed_frontier(snap: Snapshot) -> Frontier:
    """The frontier of every sealed envelope, read from the segments (for a ledger
    written before the MANIFEST kept one)."""
    sealed = Snapshot(snap.segments, (), snap.durable)
    return Frontier().extend(leaves(sealed)[1])


def write_checkpoint(layout: Layout, manifest: Manifest, key: SigningKey | None, kept: int) -> Path | None:
    """Write the sealed ledger's checkpoint (signed by ``key``), keep the newest ``kept``."""
    if manifest.tree is None:
        return None
    frontier = Frontier.from_json(manifest.tree)
    directory = layout.root / "checkpoints"
    directory.mkdir(exist_ok=True)
    path = directory / f"{frontier.size:020d}{_SIGNED if key is not None else _UNSIGNED}"
    write_atomic(path, sign(checkpoint_of(manifest, frontier), key).encode())
    for old in _kept(layout)[:-kept]:
        old.unlink(missing_ok=True)
    return path


def _kept(layout: Layout) -> list[Path]:
    """Checkpoint files, oldest first (by tree size, then signed after unsigned)."""
    directory = layout.root / "checkpoints"
    files = [*directory.glob(f"*{_SIGNED}"), *directory.glob(f"*{_UNSIGNED}")]
    return sorted(files, key=lambda p: (p.stem, p.suffix == _SIGNED))


def latest_checkpoint(layout: Layout) -> str | None:
    """The newest checkpoint the writer kept, as note text (None: none yet)."""
    notes = _kept(layout)
    return notes[-1].read_text() if notes else None


def audit_path(snap: Snapshot, target: Checkpoint, position: int, event_id: str) -> tuple[int, tuple[bytes, ...]]:
    """The leaf index of the envelope at ``position`` in the tree ``target`` commits to, and its
    RFC 6962 audit path. Raises ``CheckpointError`` when the envelope came after the checkpoint
    or the ledger does not extend it."""
    positions, hashes = leaves(snap)
    index = int(np.searchsorted(positions, position))
    if index >= target.size:
        raise CheckpointError(f"envelope {event_id} (position {position}) came after the checkpoint "
                              f"(tree size {target.size}): take a newer checkpoint")
    tree = [leaf_hash(h) for h in hashes[:target.size]]
    if merkle_root(tree) != target.root:
        raise CheckpointError("this ledger does not extend the checkpoint: run verify --checkpoint")
    return index, tuple(inclusion_proof(tree, index))
