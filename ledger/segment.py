"""Sealed segments: plain Parquet files of envelopes, and their indexes.

Segment schema (``segments/seg-<id>.parquet``; one row per envelope, rows sorted
by ``correlation_id, seq``; zstd; page checksums; row groups of
``row_group_rows`` rows so a point replay decodes little)::

    column          Parquet type                         notes
    event_id        FIXED_LEN_BYTE_ARRAY(16) UUID        required
    event_type      BYTE_ARRAY STRING                    required, dictionary
    schema_version  INT32 (INT(16))                      required
    occurred_at     INT64 TIMESTAMP(NANOS, UTC)          required
    recorded_at     INT64 TIMESTAMP(NANOS, UTC)          required
    source_origin   BYTE_ARRAY STRING                    required
    source_runtime  BYTE_ARRAY STRING                    required
    source_service  BYTE_ARRAY STRING                    optional
    source_agent    BYTE_ARRAY STRING                    optional
    correlation_id  BYTE_ARRAY STRING                    required, sorted
    causation_id    FIXED_LEN_BYTE_ARRAY(16) UUID        optional
    trace_id        FIXED_LEN_BYTE_ARRAY(16)             optional
    span_id         FIXED_LEN_BYTE_ARRAY(8)              optional
    parent_span_id  FIXED_LEN_BYTE_ARRAY(8)              optional
    seq             INT64                                required, gapless per correlation
    position        INT64                                required, unique
    payload         BYTE_ARRAY JSON                      required, canonical JSON text
    prev_hash       FIXED_LEN_BYTE_ARRAY(32)             required, zeros for seq 1
    hash            FIXED_LEN_BYTE_ARRAY(32)             required, SHA-256 (records.py)

Index schema (``index/seg-<id>.parquet``; one row per correlation in the
segment, sorted by ``correlation_id``): ``correlation_id``, ``first_row``,
``row_count``, ``first_seq``, ``last_seq``, ``last_hash``. A correlation's rows
in a segment are contiguous and its seqs there are consecutive.
"""

from __future__ import annotations

import bisect
import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from chatsnapshot.ledger.fsutil import fsync_dir
from chatsnapshot.ledger.records import Record, Row

__all__ = [
    "INDEX_SCHEMA",
    "SCHEMA",
    "IndexEntry",
    "SegmentFile",
    "build_index",
    "file_sha256",
    "records_to_table",
    "table_to_records",
    "write_parquet",
]

_TS = pa.timestamp("ns", tz="UTC")
SCHEMA = pa.schema([
    pa.field("event_id", pa.uuid(), nullable=False),
    pa.field("event_type", pa.string(), nullable=False),
    pa.field("schema_version", pa.int16(), nullable=False),
    pa.field("occurred_at", _TS, nullable=False),
    pa.field("recorded_at", _TS, nullable=False),
    pa.field("source_origin", pa.string(), nullable=False),
    pa.field("source_runtime", pa.string(), nullable=False),
    pa.field("source_service", pa.string()),
    pa.field("source_agent", pa.string()),
    pa.field("correlation_id", pa.string(), nullable=False),
    pa.field("causation_id", pa.uuid()),
    pa.field("trace_id", pa.binary(16)),
    pa.field("span_id", pa.binary(8)),
    pa.field("parent_span_id", pa.binary(8)),
    pa.field("seq", pa.int64(), nullable=False),
    pa.field("position", pa.int64(), nullable=False),
    pa.field("payload", pa.json_(), nullable=False),
    pa.field("prev_hash", pa.binary(32), nullable=False),
    pa.field("hash", pa.binary(32), nullable=False),
])
INDEX_SCHEMA = pa.schema([
    pa.field("correlation_id", pa.string(), nullable=False),
    pa.field("first_row", pa.int64(), nullable=False),
    pa.field("row_count", pa.int64(), nullable=False),
    pa.field("first_seq", pa.int64(), nullable=False),
    pa.field("last_seq", pa.int64(), nullable=False),
    pa.field("last_hash", pa.binary(32), nullable=False),
])

# Low-cardinality columns dictionary-encode to almost nothing; monotone integers
# delta-encode; ids and hashes are random bytes that no encoding shrinks.
_DICTIONARY = ["event_type", "source_origin", "source_runtime", "source_service", "source_agent",
               "correlation_id", "trace_id", "parent_span_id"]
_DELTA = {name: "DELTA_BINARY_PACKED" for name in ("schema_version", "occurred_at", "recorded_at", "seq", "position")}
_STATISTICS = ["correlation_id", "seq", "position", "occurred_at", "recorded_at"]
_STORAGE = {name: (t.storage_type if isinstance(t, pa.BaseExtensionType) else t)
            for name, t in zip(SCHEMA.names, SCHEMA.types, strict=True)}


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """Where one correlation's rows sit in one segment."""

    first_row: int
    row_count: int
    first_seq: int
    last_seq: int
    last_hash: bytes


def records_to_table(records: Sequence[Row]) -> pa.Table:
    """Records or rows (any order) -> a segment table sorted by ``correlation_id, seq``."""
    arrays = []
    for i, field in enumerate(SCHEMA):
        values = list(map(itemgetter(i), records))
        storage = _column(values, _STORAGE[field.name])
        if isinstance(field.type, pa.BaseExtensionType):
            storage = pa.ExtensionArray.from_storage(field.type, storage)
        arrays.append(storage)
    table = pa.Table.from_arrays(arrays, schema=SCHEMA)
    return table.sort_by([("correlation_id", "ascending"), ("seq", "ascending")])


def _column(values: list, target: pa.DataType) -> pa.Array:
    if target == pa.string():  # inferring then casting is ~25x faster than pa.array(strs, type=string)
        return pa.array(values).cast(target)
    return pa.array(values, type=target)


def table_to_records(table: pa.Table) -> list[Record]:
    """Segment rows -> records, in table order."""
    columns = []
    for name in SCHEMA.names:
        col = table.column(name)
        if isinstance(col.type, pa.BaseExtensionType):
            col = pa.chunked_array([c.storage for c in col.chunks], type=col.type.storage_type)
        if pa.types.is_timestamp(col.type):
            col = col.cast(pa.int64())
        columns.append(col.to_pylist())
    return list(map(Record._make, zip(*columns, strict=True)))


def build_index(table: pa.Table) -> pa.Table:
    """The index of a sorted segment table: one row per correlation."""
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


def write_parquet(tables: pa.Table | Iterable[pa.Table], path: Path, *, row_group_rows: int,
                  compression_level: int, segment: bool) -> tuple[int, str]:
    """Write a table, or a stream of tables with one schema, to ``path`` durably
    (tmp name, fsync, rename, fsync dir). Returns the file's size and SHA-256 (hex)."""
    tmp = path.with_name(path.name + ".tmp")
    options: dict = dict(compression="zstd", compression_level=compression_level, write_page_checksum=True)
    if segment:
        options.update(use_dictionary=_DICTIONARY, column_encoding=_DELTA, write_statistics=_STATISTICS)
    chunks = iter([tables] if isinstance(tables, pa.Table) else tables)
    first = next(chunks)
    with pq.ParquetWriter(tmp, first.schema, **options) as writer:
        writer.write_table(first, row_group_size=row_group_rows)
        for chunk in chunks:
            writer.write_table(chunk, row_group_size=row_group_rows)
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    size, digest = tmp.stat().st_size, file_sha256(tmp)
    os.replace(tmp, path)
    fsync_dir(path.parent)
    return size, digest


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class SegmentFile:
    """Random access to the rows of one sealed segment.

    The file stays open from the first read until ``close``, so a compaction
    that replaces and deletes it does not disturb a reader in this process.
    """

    def __init__(self, path: Path, *, verify_checksums: bool = True) -> None:
        self.path = path
        self._verify = verify_checksums
        self._file: pq.ParquetFile | None = None
        self._starts: list[int] = []

    def open(self) -> None:
        """Open the file now rather than at the first read."""
        self._open()

    def _open(self) -> pq.ParquetFile:
        if self._file is None:
            f = pq.ParquetFile(self.path, page_checksum_verification=self._verify)
            starts, at = [], 0
            for i in range(f.metadata.num_row_groups):
                starts.append(at)
                at += f.metadata.row_group(i).num_rows
            self._file, self._starts = f, starts
        return self._file

    @property
    def num_rows(self) -> int:
        return self._open().metadata.num_rows

    @property
    def num_row_groups(self) -> int:
        return self._open().metadata.num_row_groups

    def row_group_start(self, group: int) -> int:
        self._open()
        return self._starts[group]

    def read_rows(self, first_row: int, count: int, columns: list[str] | None = None) -> pa.Table:
        """Rows ``[first_row, first_row + count)``, decoding only their row groups."""
        f = self._open()
        g0 = bisect.bisect_right(self._starts, first_row) - 1
        g1 = bisect.bisect_right(self._starts, first_row + count - 1) - 1
        table = f.read_row_groups(range(g0, g1 + 1), columns=columns, use_threads=False)
        return table.slice(first_row - self._starts[g0], count)

    def take(self, rows: list[int]) -> pa.Table:
        """The given rows (sorted), decoding each needed row group once."""
        self._open()
        groups: dict[int, list[int]] = {}
        for row in rows:
            g = bisect.bisect_right(self._starts, row) - 1
            groups.setdefault(g, []).append(row - self._starts[g])
        parts = [self.read_row_group(g).take(pa.array(offsets)) for g, offsets in groups.items()]
        return pa.concat_tables(parts)

    def read_row_group(self, group: int, columns: list[str] | None = None) -> pa.Table:
        return self._open().read_row_group(group, columns=columns)

    def read_columns(self, columns: list[str]) -> pa.Table:
        return self._open().read(columns=columns)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
