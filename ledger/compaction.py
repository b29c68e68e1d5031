"""Compaction: merge adjacent small segments into larger sorted ones.

Merging never changes an envelope: the rows of the merged segments are read,
concatenated, sorted by ``correlation_id, seq`` and written again, hashes
included, then the manifest swaps the old entries for the new one in one
atomic replace. Only adjacent healthy segments are merged, so a merged segment
covers a contiguous range of positions and a quarantined segment is never
touched. Old files are deleted after the manifest no longer lists them; this
process keeps them open for readers still using them, and a reader in another
process that loses the race re-reads the manifest.
"""

from __future__ import annotations

import threading

import pyarrow as pa
import pyarrow.parquet as pq
from chatsnapshot.ledger.catalog import Catalog
from chatsnapshot.ledger.layout import Layout
from chatsnapshot.ledger.manifest import ManifestKeeper, SegmentEntry
from chatsnapshot.ledger.options import LedgerOptions
from chatsnapshot.ledger.results import CompactionReport
from chatsnapshot.ledger.sealing import write_segment
from chatsnapshot.ledger.writer import Writer

__all__ = ["Compactor", "plan"]


def plan(entries: list[SegmentEntry], target_rows: int) -> list[list[SegmentEntry]]:
    """Groups of two or more adjacent healthy segments to merge, each group at
    most about ``target_rows`` rows. Segments already at half the target stay."""
    groups: list[list[SegmentEntry]] = []
    current: list[SegmentEntry] = []
    rows = 0
    for entry in entries:
        small = entry.healthy and entry.rows < target_rows // 2
        if not small or rows + entry.rows > target_rows:
            if len(current) > 1:
                groups.append(current)
            current, rows = [], 0
        if small:
            current.append(entry)
            rows += entry.rows
    if len(current) > 1:
        groups.append(current)
    return groups


class Compactor:
    def __init__(self, layout: Layout, options: LedgerOptions, writer: Writer, catalog: Catalog,
                 keeper: ManifestKeeper) -> None:
        self._layout, self._options = layout, options
        self._writer, self._catalog, self._keeper = writer, catalog, keeper
        self._lock = threading.Lock()

    def small_segments(self) -> int:
        half = self._options.compact_target_rows // 2
        return sum(1 for e in self._keeper.current.segments if e.healthy and e.rows < half)

    def maybe(self) -> None:
        """Compact when enough small segments have accumulated (background policy)."""
        if self.small_segments() >= self._options.compact_trigger:
            self.compact()

    def compact(self) -> CompactionReport:
        with self._lock:
            before = len(self._keeper.current.segments)
            report = CompactionReport(segments_before=before)
            for group in plan(list(self._keeper.current.segments), self._options.compact_target_rows):
                self._merge(group)
                report.merged += len(group)
                report.rows_rewritten += sum(e.rows for e in group)
            report.segments_after = len(self._keeper.current.segments)
            return report

    def _merge(self, group: list[SegmentEntry]) -> None:
        root = self._layout.root
        table = pa.concat_tables([pq.read_table(root / e.file) for e in group])
        table = table.sort_by([("correlation_id", "ascending"), ("seq", "ascending")])
        if table.num_rows != sum(e.rows for e in group):
            raise RuntimeError("compaction read a different number of rows than the manifest lists; aborted")
        entry, index = write_segment(self._layout, self._options, self._keeper, table,
                                     level=self._options.compaction_level)
        old = {e.id for e in group}
        self._keeper.update(lambda m: m.with_segments([*(s for s in m.segments if s.id not in old), entry]))
        merged = self._catalog.open_segment(entry, table, index)
        with self._writer.commit_lock:
            self._catalog.replace(old, [merged])
        for e in group:
            (root / e.file).unlink(missing_ok=True)
            (root / e.index_file).unlink(missing_ok=True)
