"""A segment's index: one row per correlation, where its rows sit.

Index schema (``index/seg-<id>.parquet``; one row per correlation in the
segment, sorted by ``correlation_id``): ``correlation_id``, ``first_row``,
``row_count``, ``first_seq``, ``last_seq``, ``last_hash``. A correlation's rows
in a segment are contiguous and its seqs there are consecutive.

``build_index`` indexes a sorted table in hand; ``StreamedIndex`` indexes rows
that pass by in chunks (a compaction's output), holding one row per correlation.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

__all__ = ["INDEX_SCHEMA", "IndexEntry", "StreamedIndex", "build_index"]

INDEX_SCHEMA = pa.schema([
    pa.field("correlation_id", pa.string(), nullable=False),
    pa.field("first_row", pa.int64(), nullable=False),
    pa.field("row_count", pa.int64(), nullable=False),
    pa.field("first_seq", pa.int64(), nullable=False),
    pa.field("last_seq", pa.int64(), nullable=False),
    pa.field("last_hash", pa.binary(32), nullable=False),
])


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """Where one correlation's rows sit in one segment."""

    first_row: int
    row_count: int
    first_seq: int
    last_seq: int
    last_hash: bytes


def build_index(table: pa.Table) -> pa.Table:
    """The index of a sorted segment table: one row per correlation."""
    import pyarrow.compute as pc

    if table.num_rows == 0:
        return INDEX_SCHEMA.empty_table()
    runs = pc.run_end_encode(table.column("correlation_id").combine_chunks())
    ends = runs.run_ends
    starts = pa.concat_arrays([pa.array([0], ends.type), ends.slice(0, len(ends) - 1)])
    lasts = pc.subtract(ends, 1)
    seq = table.column("seq").combine_chunks()
    return pa.Table.from_arrays([
        runs.values,
        starts.cast(pa.int64()),
        pc.subtract(ends, starts).cast(pa.int64()),
        pc.take(seq, starts),
        pc.take(seq, lasts),
        pc.take(table.column("hash").combine_chunks(), lasts),
    ], schema=INDEX_SCHEMA)


class StreamedIndex:
    """``build_index`` of sorted segment rows that pass by in chunks (``observe`` each, in file
    order), holding one row per correlation rather than the rows: what a compaction writing
    millions of rows keeps instead of reading their keys back. Also counts the rows and the
    range of their positions."""

    def __init__(self) -> None:
        self._parts: list[pa.Table] = []
        self.rows = 0
        self.positions: tuple[int, int] | None = None

    def observe(self, chunk: pa.Table) -> pa.Table:
        """Take note of ``chunk`` (the next rows of the file); returns it unchanged."""
        import pyarrow.compute as pc

        if chunk.num_rows:
            part = build_index(chunk)
            self._parts.append(part.set_column(1, "first_row", pc.add(part.column("first_row"), self.rows)))
            self.rows += chunk.num_rows
            bounds = pc.min_max(chunk.column("position"))
            low, high = bounds["min"].as_py(), bounds["max"].as_py()
            self.positions = (low, high) if self.positions is None else (min(self.positions[0], low),
                                                                         max(self.positions[1], high))
        return chunk

    def index(self) -> pa.Table:
        """The index of every row observed: a correlation cut between two chunks is one row."""
        import pyarrow.compute as pc

        if not self._parts:
            return INDEX_SCHEMA.empty_table()
        parts = pa.concat_tables(self._parts).combine_chunks()
        runs = pc.run_end_encode(parts.column("correlation_id").chunk(0))
        ends = runs.run_ends.cast(pa.int64())
        firsts = pa.concat_arrays([pa.array([0], pa.int64()), ends.slice(0, len(ends) - 1)])
        lasts = pc.subtract(ends, 1)
        first_row = pc.take(parts.column("first_row"), firsts)
        end_row = pc.add(pc.take(parts.column("first_row"), lasts), pc.take(parts.column("row_count"), lasts))
        return pa.Table.from_arrays([
            runs.values,
            first_row,
            pc.subtract(end_row, first_row),
            pc.take(parts.column("first_seq"), firsts),
            pc.take(parts.column("last_seq"), lasts),
            pc.take(parts.column("last_hash"), lasts),
        ], schema=INDEX_SCHEMA)
