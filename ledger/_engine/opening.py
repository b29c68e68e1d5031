"""Assembling a writer or a reader over a ledger directory."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from chatsnapshot.errors import LedgerFormatError, LedgerNotFoundError
from chatsnapshot.ledger._engine.buffer import Buffer
from chatsnapshot.ledger._engine.catalog import Catalog
from chatsnapshot.ledger._engine.checkpoints import sealed_frontier
from chatsnapshot.ledger._engine.layout import Layout
from chatsnapshot.ledger._engine.lock import WriterLock, writer_alive
from chatsnapshot.ledger._engine.manifest import (
    VERSION,
    Manifest,
    ManifestKeeper,
    SegmentEntry,
    load_manifest,
    save_manifest,
)
from chatsnapshot.ledger._engine.recovery import (
    RecoveryReport,
    check_segment,
    describe_damaged,
    index_ok,
    recover_wal,
    step_over,
)
from chatsnapshot.ledger._engine.repair import rebuild_manifest
from chatsnapshot.ledger._engine.snapshot import Snapshot
from chatsnapshot.ledger.options import LedgerOptions

if TYPE_CHECKING:  # the writer's machinery is imported by open_writer: readers start faster
    from chatsnapshot.ledger._engine.compaction import Compactor
    from chatsnapshot.ledger._engine.sealing import Sealer
    from chatsnapshot.ledger._engine.writer import Writer

__all__ = ["ReaderParts", "WriterParts", "open_reader", "open_writer"]

log = logging.getLogger("chatsnapshot.ledger")


@dataclass
class WriterParts:
    lock: WriterLock
    keeper: ManifestKeeper
    catalog: Catalog
    writer: Writer
    sealer: Sealer
    compactor: Compactor
    report: RecoveryReport


@dataclass
class ReaderParts:
    manifest: Manifest
    catalog: Catalog
    buffers: tuple[Buffer, ...]
    durable: int
    report: RecoveryReport


def open_writer(layout: Layout, options: LedgerOptions) -> WriterParts:
    """Lock the directory, recover it, and start the background sealer."""
    layout.create_dirs()
    lock = WriterLock(layout.lock)
    lock.acquire()
    try:
        return _recover(layout, options, lock)
    except BaseException:
        lock.release()
        raise


def _recover(layout: Layout, options: LedgerOptions, lock: WriterLock) -> WriterParts:
    from chatsnapshot.ledger._engine.compaction import Compactor
    from chatsnapshot.ledger._engine.recovery import (
        index_ok,
        initial_heads,
        quarantine_segment,
        rebuild_index,
        sweep_leftovers,
    )
    from chatsnapshot.ledger._engine.sealing import Sealer
    from chatsnapshot.ledger._engine.writer import Writer

    manifest = load_manifest(layout.manifest)
    if manifest is None:
        if any(layout.segments.glob("*.parquet")):
            raise LedgerFormatError(
                f"{layout.manifest} is missing but {layout.segments} holds segments; nothing was changed: "
                "restore the MANIFEST from a backup"
            )
        manifest = Manifest()
        save_manifest(layout.manifest, manifest)
    report = RecoveryReport()
    if manifest.version < VERSION:  # records stay as written; what is appended from now on is format 2
        manifest = replace(manifest, generation=manifest.generation + 1, version=VERSION)
        save_manifest(layout.manifest, manifest)
        report.warnings.append(
            f"migrated the ledger from format 1 to {VERSION}: envelopes stored before keep their format-1 hashes "
            "(over the payload bytes) and their checkpoints still verify, but their payloads cannot be erased")
    sweep_leftovers(layout, manifest, report)
    changed = bool(manifest.retired)
    manifest = replace(manifest, retired=())  # sweep_leftovers deleted them
    entries = []
    for entry in manifest.segments:
        if entry.healthy:
            problem = check_segment(layout, entry)
            if problem is not None:
                entry = quarantine_segment(layout, entry, problem, report)
            elif not index_ok(layout, entry):
                entry = rebuild_index(layout, entry, options.compression_level)
                report.warnings.append(f"rebuilt the damaged index of {entry.file} (nothing lost)")
        entries.append(entry)
    if changed or entries != list(manifest.segments):
        manifest = manifest.with_segments(entries)
        save_manifest(layout.manifest, manifest)

    _refuse_missing_segments(layout, manifest)
    keeper = ManifestKeeper(layout.manifest, manifest)
    catalog = Catalog(layout, writer=True, open_row_groups=options.open_row_groups)
    catalog.load(entries)
    if not manifest.ledger_id or manifest.tree is None:  # a new ledger, or one from before checkpoints
        frontier = sealed_frontier(Snapshot(tuple(catalog.segments), (), manifest.sealed_through))
        manifest = keeper.update(lambda m: replace(m, generation=m.generation + 1,
                                                   ledger_id=m.ledger_id or uuid.uuid4().hex,
                                                   tree=m.tree if m.tree is not None else frontier.to_json()))
    heads = initial_heads(catalog, layout)
    for lost in manifest.lost:  # lost earlier: their seqs stay used
        step_over(lost, heads)
    wal = recover_wal(layout, manifest.sealed_through, heads, report, quarantine=True)
    records, sources = wal.records, wal.sources
    if wal.lost:  # recorded for good before the damaged WAL file can go
        manifest = keeper.update(lambda m: replace(m, generation=m.generation + 1, lost=(*m.lost, *wal.lost)))
    position = max([manifest.sealed_through, *(e.last_position for e in entries),
                    records[-1].position if records else 0,
                    *(x.position for x in manifest.lost if x.position is not None)])
    writer = Writer(layout, catalog, heads, position, max_unsealed_bytes=options.max_unsealed_bytes,
                    backpressure_timeout=options.backpressure_timeout, erasable=options.erasable)
    sealer = Sealer(layout, options, writer, catalog, keeper)
    compactor = Compactor(layout, options, writer, catalog, keeper)
    if records:  # seal what the WAL held now, so that recovery never has to run twice
        recovered = Buffer(sources)
        for r in records:
            recovered.add(r)
        writer.adopt(recovered)
        sealer.seal_buffer(recovered)
    else:
        for path in sources:
            path.unlink(missing_ok=True)
    if options.auto_compact:
        sealer.after_seal.append(compactor.poke)
        compactor.start()
    sealer.start()
    for line in report.lines():
        log.warning("ledger %s: %s", layout.root, line)
    return WriterParts(lock, keeper, catalog, writer, sealer, compactor, report)


def _refuse_missing_segments(layout: Layout, manifest: Manifest) -> None:
    """A position up to ``sealed_through`` in no listed segment (and not a recorded loss) means a
    segment was removed: the runs it held are unknown, so appending could reuse their seqs."""
    lost = {x.position for x in manifest.lost}
    # A quarantined segment whose index is gone too is a hole: nothing says which runs it held.
    covered = sorted((e.first_position, e.last_position) for e in manifest.segments
                     if e.healthy or index_ok(layout, e))
    expected, holes = 1, []
    for first, last in [*covered, (manifest.sealed_through + 1, manifest.sealed_through + 1)]:
        missing = [p for p in range(expected, min(first, manifest.sealed_through + 1)) if p not in lost]
        if missing:
            holes.append(f"{missing[0]}..{missing[-1]}")
        expected = max(expected, last + 1)
    if holes:
        raise LedgerFormatError(
            f"positions {', '.join(holes)} of {layout.root} are sealed according to its MANIFEST but in no listed "
            "segment: a segment was removed. Appending could reuse the seqs of the runs it held, so the ledger "
            "is not opened for writing; restore the segment (and its MANIFEST entry) from a backup, or read it "
            "with readonly=True / `chatsnapshot verify`")


def open_reader(layout: Layout, options: LedgerOptions, previous: ReaderParts | None = None) -> ReaderParts:
    """Read the manifest (and, when no writer runs, the WAL) without changing anything.

    ``previous``: the parts this reader opened last time, whose open segments are reused."""
    if not layout.root.is_dir():
        raise LedgerNotFoundError(f"there is no ledger at {layout.root} (no such directory); check --ledger / the path")
    report = RecoveryReport()
    try:
        manifest = load_manifest(layout.manifest)
    except LedgerFormatError as e:
        if not layout.segments.is_dir():
            raise
        rebuilt = rebuild_manifest(layout, write_indexes=False)  # read what the files hold; change nothing
        manifest = rebuilt.manifest
        report.warnings.append(f"{e}; reading the segments without it (`chatsnapshot repair` writes a new one)")
        report.warnings += rebuilt.unrecovered[:-1]
    if manifest is None:
        if not layout.wal.is_dir():
            raise LedgerFormatError(f"{layout.root} is not a ChatSnapshot ledger (no MANIFEST, no wal/)")
        manifest = Manifest()
    known = {s.entry for s in previous.catalog.segments} if previous is not None else set()
    entries = []
    for entry in manifest.segments:
        problem = _unusable(layout, entry) if entry.healthy and entry not in known else None
        if problem is not None:  # the writer would quarantine it; a reader reports it and reads the rest
            report.warnings.append(f"segment {describe_damaged(layout, entry, problem).describe()}")
            entry = entry.quarantined(problem)
        elif not entry.healthy:
            report.warnings.append(f"segment {entry.file} is quarantined: {entry.reason}")
        entries.append(entry)
    manifest = replace(manifest, segments=tuple(entries))
    catalog = Catalog(layout, writer=False, open_row_groups=options.open_row_groups)
    catalog.load(manifest.segments, previous.catalog if previous is not None else None)
    buffers: tuple[Buffer, ...] = ()
    durable = max([manifest.sealed_through, *(e.last_position for e in manifest.segments)])
    if layout.wal.is_dir() and not writer_alive(layout.lock):
        # No writer: what a crashed writer left in the WAL is part of the ledger.
        wal = recover_wal(layout, manifest.sealed_through, {}, report, quarantine=False)
        records, sources = wal.records, wal.sources
        manifest = replace(manifest, lost=(*manifest.lost, *wal.lost))  # seen, not written: a reader changes nothing
        if records:
            buf = Buffer(sources)
            for r in records:
                buf.add(r)
            buffers = (buf,)
            durable = max(durable, records[-1].position)
    return ReaderParts(manifest, catalog, buffers, durable, report)


def _unusable(layout: Layout, entry: SegmentEntry) -> str | None:
    """Why a reader cannot read a listed segment at all, or None. Cheap when the file is at its
    recorded size; otherwise its footer decides (a file changed but readable stays, for ``verify``
    to name what changed in it)."""
    try:
        size = (layout.root / entry.file).stat().st_size
    except FileNotFoundError:
        return "segment file is missing"
    if size == entry.bytes:
        return None
    import pyarrow.parquet as pq

    try:
        pq.ParquetFile(layout.root / entry.file).metadata  # noqa: B018 (reading it is the check)
        return None
    except Exception as e:
        return f"segment is {size} bytes, the manifest recorded {entry.bytes}, and its footer is unreadable: {e}"


def manifest_stamp(layout: Layout) -> tuple[int, int, int] | None:
    """(inode, size, mtime_ns) of the MANIFEST: changes whenever it is replaced."""
    try:
        st = Path(layout.manifest).stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns
