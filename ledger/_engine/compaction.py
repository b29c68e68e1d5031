"""Compaction: merge adjacent small segments into larger sorted ones.

Merging never changes an envelope: the rows of the merged segments are read,
concatenated, sorted by ``correlation_id, seq`` and written again, hashes
included, then the manifest swaps the old entries for the new one in one
atomic replace. Only adjacent healthy segments are merged, so a merged segment
covers a contiguous range of positions and a quarantined segment is never
touched. Old files are deleted after the manifest no longer lists them; this
MANIFEST lists them as ``retired`` and they are deleted ``RETIRE_GRACE`` seconds
later, so that a reader that took its snapshot just before (in this process or
another) still finds them.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace

from chatsnapshot.ledger._engine.allocator import release_memory
from chatsnapshot.ledger._engine.catalog import Catalog
from chatsnapshot.ledger._engine.layout import Layout
from chatsnapshot.ledger._engine.manifest import ManifestKeeper, SegmentEntry
from chatsnapshot.ledger._engine.merge import merged_chunks
from chatsnapshot.ledger._engine.sealing import write_segment
from chatsnapshot.ledger._engine.writer import Writer
from chatsnapshot.ledger.options import LedgerOptions
from chatsnapshot.ledger.results import CompactionReport

__all__ = ["Compactor", "plan"]

log = logging.getLogger("chatsnapshot.ledger")
RETIRE_GRACE = 60.0  # seconds a replaced segment file outlives its replacement


def plan(entries: list[SegmentEntry], target_rows: int, level: int, *, fanin: int) -> list[list[SegmentEntry]]:
    """Groups of adjacent healthy segments to merge, each at most about
    ``target_rows`` rows and ``fanin`` segments (a merge holds one decoded row
    group per input: what bounds its memory). Segments at half the target or more
    stay, unless they were written below ``level`` (sealing writes fast;
    compaction recompresses every segment once)."""
    groups: list[list[SegmentEntry]] = []
    current: list[SegmentEntry] = []
    rows = 0

    def close() -> None:
        if len(current) > 1 or (current and current[0].level < level):
            groups.append(list(current))

    for entry in entries:
        small = entry.healthy and entry.rows < target_rows // 2
        if not small or rows + entry.rows > target_rows or len(current) >= fanin:
            close()
            current, rows = [], 0
        if small:
            current.append(entry)
            rows += entry.rows
        elif entry.healthy and entry.level < level:
            groups.append([entry])
    close()
    return groups


class Compactor:
    """Merges segments, on request or in its own background thread, so that a
    long compaction never holds up sealing."""

    def __init__(self, layout: Layout, options: LedgerOptions, writer: Writer, catalog: Catalog,
                 keeper: ManifestKeeper) -> None:
        self._layout, self._options = layout, options
        self._writer, self._catalog, self._keeper = writer, catalog, keeper
        self.rewriting = threading.Lock()  # held by whoever replaces segments: compaction, erasure
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._graveyard: list[tuple[float, list[str]]] = []  # (retired at, files)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="chatsnapshot-compactor", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Ask the background thread to look for work (called after each seal)."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        retry: float | None = None
        while True:
            waits = [w for w in (retry, RETIRE_GRACE / 2 if self._graveyard else None) if w is not None]
            self._wake.wait(timeout=min(waits) if waits else None)
            self._wake.clear()
            if self._stopping:
                return
            try:
                retry = self.maybe()
                self.bury()
            except Exception:  # the segments stay as they are; the next seal pokes again
                log.exception("background compaction failed; the segments are unchanged")

    def bury(self, *, grace: float = RETIRE_GRACE) -> None:
        """Delete retired files older than ``grace`` seconds and drop them from the manifest."""
        now = time.monotonic()
        due = [files for at, files in self._graveyard if now - at >= grace]
        if not due:
            return
        self._graveyard = [(at, files) for at, files in self._graveyard if now - at < grace]
        gone = {f for files in due for f in files}
        for name in gone:
            (self._layout.root / name).unlink(missing_ok=True)
        self._keeper.update(lambda m: replace(m, retired=tuple(f for f in m.retired if f not in gone)))

    def small_segments(self) -> int:
        half = self._options.compact_target_rows // 2
        return sum(1 for e in self._keeper.current.segments if e.healthy and e.rows < half)

    def due(self) -> tuple[bool, float | None]:
        """The background policy: whether to compact now, else when to look again.

        Compaction rewrites every row once more, which costs as much CPU as the
        ingest itself; it waits until appends pause for ``compact_idle`` seconds,
        unless more than ``compact_backlog`` segments are waiting."""
        o = self._options
        if self.small_segments() < o.compact_trigger:
            return False, None
        quiet = time.monotonic() - self._writer.last_append
        if quiet >= o.compact_idle or len(self._keeper.current.segments) > o.compact_backlog:
            return True, None
        return False, o.compact_idle - quiet

    def maybe(self) -> float | None:
        """Compact if due; returns how long to wait before looking again, if at all."""
        due, retry = self.due()
        if due:
            self.compact()
        return retry

    def compact(self) -> CompactionReport:
        with self.rewriting:
            before = len(self._keeper.current.segments)
            report = CompactionReport(segments_before=before)
            for group in plan(list(self._keeper.current.segments), self._options.compact_target_rows,
                              self._options.compaction_level, fanin=self._options.compact_fanin):
                self._merge(group)
                report.merged += len(group)
                report.rows_rewritten += sum(e.rows for e in group)
            report.segments_after = len(self._keeper.current.segments)
            return report

    def _merge(self, group: list[SegmentEntry]) -> None:
        root = self._layout.root
        entry, index = write_segment(self._layout, self._options, self._keeper,
                                     merged_chunks([root / e.file for e in group]),
                                     level=self._options.compaction_level)
        if entry.rows != sum(e.rows for e in group):
            raise RuntimeError("compaction wrote a different number of rows than the manifest lists; aborted")
        old = {e.id for e in group}
        files = [name for e in group for name in (e.file, e.index_file)]
        self._keeper.update(lambda m: m.with_segments([*(s for s in m.segments if s.id not in old), entry],
                                                      retired=(*m.retired, *files)))
        merged = self._catalog.open_segment(entry, index=index)
        self._writer.replace_segments(old, [merged])
        self._graveyard.append((time.monotonic(), files))
        release_memory()
