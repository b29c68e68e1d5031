"""Streaming merge of sorted segments, in bounded memory.

Every segment is sorted by ``(correlation_id, seq)``, and a correlation's seqs
never interleave between two segments except in order. So the merged order is
found from the two key columns alone (a few dozen bytes per row), and the
merged rows are then produced chunk by chunk: each input is consumed strictly
front to back, one decoded row group at a time. Peak memory is about one chunk
plus one row group per input, whatever the size of the output.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from chatsnapshot.ledger._engine.segment import SCHEMA, SegmentFile, conform

__all__ = ["merged_chunks"]

CHUNK_ROWS = 8192


class _Cursor:
    """Reads one input front to back, keeping only the current row group."""

    def __init__(self, path: Path) -> None:
        self.file = SegmentFile(path)
        self.group = -1
        self.table: pa.Table | None = None

    def rows(self, first: int, count: int) -> pa.Table:
        """Rows ``[first, first + count)``; ``first`` never goes backwards."""
        parts, end = [], first + count
        while first < end:
            group = self._group_of(first)
            if group != self.group:
                self.table, self.group = conform(self.file.read_row_group(group)), group
            assert self.table is not None
            start = self.file.row_group_start(group)
            take = min(end, start + self.table.num_rows) - first
            parts.append(self.table.slice(first - start, take))
            first += take
        return pa.concat_tables(parts) if len(parts) > 1 else parts[0]

    def _group_of(self, row: int) -> int:
        group = max(self.group, 0)
        while group + 1 < self.file.num_row_groups and self.file.row_group_start(group + 1) <= row:
            group += 1
        return group

    def close(self) -> None:
        self.file.close()


def merged_chunks(paths: list[Path], chunk_rows: int = CHUNK_ROWS) -> Iterator[pa.Table]:
    """The rows of ``paths`` merged into ``(correlation_id, seq)`` order, in chunks."""
    cursors = [_Cursor(p) for p in paths]
    try:
        keys = pa.concat_tables([
            c.file.read_columns(["correlation_id", "seq"]).append_column(
                "input", pa.array([i] * c.file.num_rows, pa.int32()))
            for i, c in enumerate(cursors)
        ])
        order = pc.sort_indices(keys, [("correlation_id", "ascending"), ("seq", "ascending")])
        inputs = pc.take(keys.column("input"), order).to_numpy()
        del keys, order
        taken = [0] * len(cursors)  # rows consumed so far, per input
        for start in range(0, len(inputs), chunk_rows):
            chunk = inputs[start:start + chunk_rows]
            counts = np.bincount(chunk, minlength=len(cursors))
            parts = []
            for i, n in enumerate(counts.tolist()):
                if n:
                    parts.append(cursors[i].rows(taken[i], n))
                    taken[i] += n
            # The parts are the chunk's rows grouped by input, each input in order;
            # a stable sort by input maps chunk positions to part rows, and its
            # inverse says which part row each chunk position takes.
            by_input = np.argsort(chunk, kind="stable")
            positions = np.empty(len(chunk), dtype=np.int64)
            positions[by_input] = np.arange(len(chunk))
            yield pa.concat_tables(parts).take(pa.array(positions)).cast(SCHEMA)
    finally:
        for c in cursors:
            c.close()
