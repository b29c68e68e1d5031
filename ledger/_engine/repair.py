"""Rebuilding a lost or unreadable MANIFEST from ``segments/`` and ``index/``.

Every segment file that reads back becomes an entry again: its size and
SHA-256, its row count, its position range (from the ``position`` column), its
index (rebuilt from the segment when the index file is missing or does not
match it). A segment whose position range lies inside another's is what a
compaction replaced and had not deleted yet: it is left out, its rows are in
the larger one. What cannot be read is reported, never guessed: a segment that
does not decode, positions that no segment holds, and the MANIFEST's own
records that only it kept (losses recorded from WAL damage, retired files).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from chatsnapshot.errors import LedgerFormatError, LedgerNotFoundError
from chatsnapshot.ledger._engine.layout import Layout
from chatsnapshot.ledger._engine.lock import WriterLock
from chatsnapshot.ledger._engine.manifest import Manifest, SegmentEntry, load_manifest, save_manifest
from chatsnapshot.ledger._engine.segment import file_sha256, write_parquet
from chatsnapshot.ledger._engine.segment_index import build_index

__all__ = ["RebuiltManifest", "rebuild_manifest", "repair_directory"]


@dataclass
class RebuiltManifest:
    """A MANIFEST rebuilt from the files, and what could not be recovered."""

    manifest: Manifest
    notes: list[str] = field(default_factory=list)  # what was done, one line each
    unrecovered: list[str] = field(default_factory=list)  # what is missing, one line each


def rebuild_manifest(layout: Layout, *, write_indexes: bool, compression_level: int = 3) -> RebuiltManifest:
    """The MANIFEST the files in ``segments/`` support. ``write_indexes``: rewrite an index
    that is missing or wrong (a writer holding the lock); else only report it."""
    out = RebuiltManifest(Manifest())
    found: list[SegmentEntry] = []
    for path in sorted(layout.segments.glob("seg-*.parquet")):
        name = layout.relative(path)
        try:
            seg_id = int(path.stem.split("-", 1)[1])
            keys = pq.read_table(path, columns=["correlation_id", "seq", "hash", "position"])
        except Exception as e:
            out.unrecovered.append(f"{name}: unreadable ({e}); its envelopes are not in the rebuilt MANIFEST")
            continue
        if keys.num_rows == 0:
            out.unrecovered.append(f"{name}: holds no rows; left out")
            continue
        bounds = pc.min_max(keys.column("position"))
        index_path = layout.index_file(seg_id)
        index = build_index(keys)
        if index_path.exists() and _same_rows(index_path, index):
            index_bytes, index_sha = index_path.stat().st_size, file_sha256(index_path)
        elif write_indexes:
            index_bytes, index_sha = write_parquet(index, index_path, row_group_rows=1024,
                                                   compression_level=compression_level, segment=False)
            out.notes.append(f"{layout.relative(index_path)}: rebuilt from its segment")
        else:
            index_bytes, index_sha = 0, ""
            out.notes.append(f"{layout.relative(index_path)}: missing or wrong (a writer would rebuild it)")
        found.append(SegmentEntry(
            id=seg_id, file=name, index_file=layout.relative(index_path), rows=keys.num_rows,
            bytes=path.stat().st_size, sha256=file_sha256(path), index_bytes=index_bytes, index_sha256=index_sha,
            first_position=bounds["min"].as_py(), last_position=bounds["max"].as_py(),
        ))
    kept: list[SegmentEntry] = []
    for entry in sorted(found, key=lambda e: (e.first_position, -e.last_position)):
        outer = next((k for k in kept if k.first_position <= entry.first_position
                      and entry.last_position <= k.last_position), None)
        if outer is not None:
            out.notes.append(f"{entry.file}: left out, its positions are in {outer.file} (a compaction's leftover)")
            continue
        kept.append(entry)
    sealed_through = max((e.last_position for e in kept), default=0)
    expected = 1
    for entry in kept:
        if entry.first_position > expected:
            out.unrecovered.append(f"positions {expected}..{entry.first_position - 1}: in no segment")
        expected = max(expected, entry.last_position + 1)
    out.unrecovered.append("losses the old MANIFEST recorded (WAL damage), if any, are not in the files: "
                           "run `chatsnapshot verify` for what is missing now")
    ledger_id = _ledger_id_of_checkpoints(layout)
    if ledger_id:
        out.notes.append(f"the ledger's id {ledger_id} is taken from its newest checkpoint")
    else:
        out.unrecovered.append("the ledger's id (no checkpoint in checkpoints/): a new one is made at the next "
                               "writer open, and earlier checkpoints then name another origin")
    out.manifest = Manifest(generation=1, next_segment_id=max((e.id for e in found), default=0) + 1,
                            sealed_through=sealed_through, segments=tuple(kept), ledger_id=ledger_id)
    out.notes.append(f"{len(kept)} segment(s), positions 1..{sealed_through}")
    return out


def _same_rows(path: Path, index: pa.Table) -> bool:
    try:
        return pq.read_table(path).select(index.column_names).to_pylist() == index.to_pylist()
    except Exception:
        return False


def repair_directory(layout: Layout, *, force: bool = False) -> RebuiltManifest:
    """Under the writer lock: when the MANIFEST is missing or unreadable (or ``force``), move it
    to quarantine/ and write one rebuilt from the files. Raises ``LedgerNotFoundError`` when
    there is no ledger, ``LedgerLockedError`` while a writer runs."""
    if not layout.segments.is_dir():
        raise LedgerNotFoundError(f"there is no ledger at {layout.root} (no segments/); check --ledger / the path")
    lock = WriterLock(layout.lock)
    lock.acquire()
    try:
        try:
            old = load_manifest(layout.manifest)
            problem = "readable" if old is not None else "missing"
        except LedgerFormatError as e:
            old, problem = None, str(e)
        if old is not None and not force:
            return RebuiltManifest(Manifest(), notes=["the MANIFEST is readable: nothing to repair "
                                                      "(--force rebuilds it from the files anyway)"])
        rebuilt = rebuild_manifest(layout, write_indexes=True)
        if old is not None:  # what only the MANIFEST knows: its recorded losses and its identity
            rebuilt.manifest = replace(rebuilt.manifest, lost=old.lost, ledger_id=old.ledger_id or
                                       rebuilt.manifest.ledger_id)
            rebuilt.unrecovered = [u for u in rebuilt.unrecovered if not u.startswith("losses the old MANIFEST")]
            rebuilt.notes.append(f"kept the {len(old.lost)} loss(es) the old MANIFEST recorded")
        if layout.manifest.exists():
            layout.quarantine.mkdir(exist_ok=True)
            kept = layout.quarantine / f"MANIFEST.{time.strftime('%Y%m%dT%H%M%S')}"
            os.replace(layout.manifest, kept)
            rebuilt.notes.insert(0, f"the old MANIFEST ({problem}) is kept as {layout.relative(kept)}")
        save_manifest(layout.manifest, rebuilt.manifest)
        return rebuilt
    finally:
        lock.release()


def _ledger_id_of_checkpoints(layout: Layout) -> str:
    """The id in the origin line of the newest checkpoint kept in the directory ("" when none)."""
    folder = layout.root / "checkpoints"
    notes = sorted([*folder.glob("*.note"), *folder.glob("*.unsigned")])
    if not notes:
        return ""
    origin = notes[-1].read_text().split("\n", 1)[0]
    prefix = "chatsnapshot.ledger/"
    return origin[len(prefix):] if origin.startswith(prefix) else ""
