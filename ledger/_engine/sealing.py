"""Sealing: unsealed records -> a durable Parquet segment listed in the manifest.

Order of durable steps (see layout.py): segment file, index file, manifest,
then the WAL files the records came from are deleted. ``Sealer`` runs this in
a background thread every ``seal_interval`` seconds, or as soon as the live
buffer passes ``seal_max_bytes``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from chatsnapshot.ledger._engine.allocator import release_memory
from chatsnapshot.ledger._engine.buffer import Buffer
from chatsnapshot.ledger._engine.catalog import Catalog, Segment
from chatsnapshot.ledger._engine.checkpoints import write_checkpoint
from chatsnapshot.ledger._engine.layout import Layout
from chatsnapshot.ledger._engine.manifest import Manifest, ManifestKeeper, SegmentEntry
from chatsnapshot.ledger._engine.segment import records_to_table, write_parquet
from chatsnapshot.ledger._engine.segment_index import StreamedIndex, build_index
from chatsnapshot.ledger._engine.writer import Writer
from chatsnapshot.ledger.fsutil import fsync_dir
from chatsnapshot.ledger.merkle import Frontier
from chatsnapshot.ledger.options import LedgerOptions
from chatsnapshot.ledger.records import HASH

__all__ = ["Sealer", "write_segment"]

log = logging.getLogger("chatsnapshot.ledger")
_INDEX_ROW_GROUP = 1024


def write_segment(layout: Layout, options: LedgerOptions, keeper: ManifestKeeper, rows: pa.Table | Iterable[pa.Table],
                  *, level: int | None = None) -> tuple[SegmentEntry, pa.Table]:
    """Write sorted segment rows (a table or a stream of tables) and their index
    durably; return the manifest entry (not yet in the manifest) and the index
    table. ``level`` is the zstd level (default: the sealing level)."""
    seg_id = keeper.allocate_id()
    level = level or options.compression_level
    path, index_path = layout.segment_file(seg_id), layout.index_file(seg_id)
    # A table in hand is the file's rows in the file's order; a stream is indexed as it passes by
    # (millions of rows from a compaction: their keys are neither held nor read back).
    if isinstance(rows, pa.Table):
        size, sha = write_parquet(rows, path, row_group_rows=options.row_group_rows, compression_level=level,
                                  segment=True)
        index, count = build_index(rows), rows.num_rows
        bounds = pc.min_max(rows.column("position"))
        first, last = bounds["min"].as_py(), bounds["max"].as_py()
    else:
        streamed = StreamedIndex()
        size, sha = write_parquet(map(streamed.observe, rows), path, row_group_rows=options.row_group_rows,
                                  compression_level=level, segment=True)
        count = pq.read_metadata(path).num_rows  # what the file holds, to check against what was merged
        if streamed.positions is None or count != streamed.rows:
            path.unlink(missing_ok=True)
            raise RuntimeError(f"wrote {count} rows of {streamed.rows} streamed to {path.name}; nothing was replaced")
        index, (first, last) = streamed.index(), streamed.positions
    isize, isha = write_parquet(index, index_path, row_group_rows=_INDEX_ROW_GROUP,
                                compression_level=options.compression_level, segment=False)
    entry = SegmentEntry(
        id=seg_id, file=layout.relative(path), index_file=layout.relative(index_path),
        rows=count, bytes=size, sha256=sha, index_bytes=isize, index_sha256=isha,
        first_position=first, last_position=last, level=level,
    )
    return entry, index


class Sealer:
    """Seals frozen buffers; optionally runs in a background thread."""

    def __init__(self, layout: Layout, options: LedgerOptions, writer: Writer, catalog: Catalog,
                 keeper: ManifestKeeper) -> None:
        self._layout, self._options = layout, options
        self._writer, self._catalog, self._keeper = writer, catalog, keeper
        self._lock = threading.Lock()  # one seal at a time
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.after_seal: list[Callable[[], None]] = []  # run in the sealer thread after a background seal
        self.failing = False  # the last background seal failed (a full disk): not healthy until one succeeds
        writer.add_growth_listener(self._grew)

    def seal_buffer(self, buf: Buffer) -> Segment:
        """Seal one frozen buffer (all its records are durable in the WAL)."""
        table = records_to_table(buf.records)
        entry, index = write_segment(self._layout, self._options, self._keeper, table)
        hashes = [r[HASH] for r in buf.records]  # position order: the tree's next leaves
        manifest = self._keeper.update(lambda m: m.with_segments(
            [*m.segments, entry], sealed_through=max(m.sealed_through, entry.last_position),
            tree=Frontier.from_json(m.tree or Frontier().to_json()).extend(hashes).to_json()))
        segment = self._catalog.open_segment(entry, table, index)
        self._writer.sealed(buf, segment)
        for path in buf.wal_paths:
            path.unlink(missing_ok=True)
        fsync_dir(self._layout.wal)
        self._checkpoint(manifest)
        del table, buf
        release_memory()
        return segment

    def _checkpoint(self, manifest: Manifest) -> None:
        try:
            write_checkpoint(self._layout, manifest, self._options.signing_key, self._options.checkpoints_kept)
        except OSError as e:  # the MANIFEST has the tree: the next seal (or `chatsnapshot checkpoint`) writes it
            log.warning("could not write the checkpoint after sealing (%s); the next seal tries again", e)

    def seal_all(self) -> int:
        """Rotate the WAL and seal every frozen buffer. Returns envelopes sealed."""
        with self._lock:
            self._writer.rotate()
            sealed = 0
            for buf in self._writer.frozen_buffers():
                sealed += len(buf)
                self.seal_buffer(buf)
            return sealed

    # -- background --------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="chatsnapshot-sealer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _grew(self, live_bytes: int) -> None:
        if live_bytes >= self._options.seal_max_bytes:
            with self._wake:
                self._wake.notify_all()

    def _due(self) -> tuple[bool, float]:
        """Whether to seal now, and otherwise how long until it is due."""
        backlog = self._writer.backlog()
        if backlog.live_bytes >= self._options.seal_max_bytes or backlog.frozen:
            return True, 0.0
        if backlog.live_since is None:
            return False, self._options.seal_interval
        left = backlog.live_since + self._options.seal_interval - time.monotonic()
        return left <= 0, max(left, 0.0)

    def _run(self) -> None:
        backoff = 0.0
        while True:
            with self._wake:
                due, wait = self._due()
                if backoff:
                    due, wait = False, backoff
                if not due and not self._stopping:
                    self._wake.wait(timeout=wait)
                if self._stopping:
                    return
            try:
                if self._due()[0] and self.seal_all():
                    for callback in self.after_seal:
                        callback()
                backoff, self.failing = 0.0, False
            except Exception:  # a full disk must not kill the thread; the WAL keeps the data
                self.failing = True
                backoff = min(max(backoff * 2, 0.5), 30.0)
                log.exception("sealing failed; the records stay in the WAL; retrying in %.1fs", backoff)
