"""Sealed segments: plain Parquet files of envelopes.

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
    payload_salt    FIXED_LEN_BYTE_ARRAY(16)             optional: format 2, not erased
    payload_digest  FIXED_LEN_BYTE_ARRAY(32)             optional: erased payloads only

A segment written by ledger format 1 has no ``payload_salt`` or
``payload_digest`` column; its rows read as format-1 records (both NULL).
The index of each segment: ``segment_index``.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from chatsnapshot.ledger.fsutil import fsync_dir
from chatsnapshot.ledger.records import Record, Row

__all__ = [
    "SCHEMA",
    "OpenFiles",
    "SegmentFile",
    "conform",
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
    pa.field("payload_salt", pa.binary(16)),
    pa.field("payload_digest", pa.binary(32)),
])

# Low-cardinality columns dictionary-encode to almost nothing; monotone integers
# delta-encode; ids and hashes are random bytes that no encoding shrinks.
_DICTIONARY = ["event_type", "source_origin", "source_runtime", "source_service", "source_agent",
               "correlation_id", "trace_id", "parent_span_id"]
_DELTA = {name: "DELTA_BINARY_PACKED" for name in ("schema_version", "occurred_at", "recorded_at", "seq", "position")}
_STATISTICS = ["correlation_id", "seq", "position", "occurred_at", "recorded_at"]
_STORAGE = {name: (t.storage_type if isinstance(t, pa.BaseExtensionType) else t)
            for name, t in zip(SCHEMA.names, SCHEMA.types, strict=True)}


def records_to_table(records: Sequence[Row]) -> pa.Table:
    """Records or rows (any order) -> a segment table sorted by ``correlation_id, seq``."""
    arrays = []
    columns = zip(*records, strict=True) if records else [() for _ in SCHEMA]  # a column at a time, in C
    for field, values in zip(SCHEMA, columns, strict=True):
        storage = _column(values, _STORAGE[field.name])
        if isinstance(field.type, pa.BaseExtensionType):
            storage = pa.ExtensionArray.from_storage(field.type, storage)
        arrays.append(storage)
    table = pa.Table.from_arrays(arrays, schema=SCHEMA)
    return table.sort_by([("correlation_id", "ascending"), ("seq", "ascending")])


def _column(values: Sequence[Any], target: pa.DataType) -> pa.Array:
    if target == pa.string():  # inferring then casting is ~25x faster than pa.array(strs, type=string)
        return pa.array(values).cast(target)
    return pa.array(values, type=target)


def conform(table: pa.Table) -> pa.Table:
    """Segment rows in today's schema: a format-1 segment's rows get NULL payload salts and digests."""
    for name in ("payload_salt", "payload_digest"):
        if name not in table.column_names:
            table = table.append_column(SCHEMA.field(name), pa.nulls(table.num_rows, SCHEMA.field(name).type))
    return table


def table_to_records(table: pa.Table) -> list[Record]:
    """Segment rows -> records, in table order."""
    columns: list[list[Any]] = []
    for name in SCHEMA.names:
        if name not in table.column_names:  # a format-1 segment: no payload salt or digest
            columns.append([None] * table.num_rows)
            continue
        col = table.column(name)
        if isinstance(col.type, pa.BaseExtensionType):
            col = pa.chunked_array([c.storage for c in col.chunks], type=col.type.storage_type)
        if pa.types.is_timestamp(col.type):  # the same 8 bytes, seen as integers: no compute kernel
            col = pa.chunked_array([c.view(pa.int64()) for c in col.chunks], type=pa.int64())
        if pa.types.is_fixed_size_binary(col.type):
            columns.append([v for chunk in col.chunks for v in _fixed_values(chunk)])
        else:
            columns.append(col.to_pylist())
    return list(map(Record._make, zip(*columns, strict=True)))


def _fixed_values(arr: pa.Array) -> list[bytes | None]:
    """A fixed-size binary array as Python bytes, sliced straight from its
    buffers (pyarrow's to_pylist builds a scalar per value: ~5x slower)."""
    n, width = len(arr), arr.type.byte_width
    if arr.null_count == n:
        return [None] * n
    validity, data = arr.buffers()[0], arr.buffers()[1]
    raw = bytes(memoryview(data)[arr.offset * width:(arr.offset + n) * width])
    values: list[bytes | None] = [raw[i:i + width] for i in range(0, n * width, width)]
    if arr.null_count:
        bits, off = bytes(memoryview(validity)), arr.offset
        values = [v if bits[(off + i) >> 3] >> ((off + i) & 7) & 1 else None for i, v in enumerate(values)]
    return values


def aligned_row_groups(chunks: Iterable[pa.Table], target: int) -> Iterator[pa.Table]:
    """Re-cut sorted segment rows into row groups that start at correlation
    boundaries: a group closes at the first boundary after ``target`` rows, and
    inside a correlation only at ``4 * target`` rows. So a correlation's rows
    in a segment usually sit in one row group, and a replay decodes one group
    per segment it touches. The cuts are found on the run lengths of
    ``correlation_id``; each group is one slice of each chunk it spans (a slice
    per correlation made tables of hundreds of chunks, slow to write)."""
    import pyarrow.compute as pc  # writer-side only: readers start faster without it

    limit = 4 * target
    parts: list[pa.Table] = []  # the open group's slices of earlier chunks
    rows, last = 0, None  # the open group's rows; the correlation of its last row

    def group(end_slice: pa.Table | None) -> pa.Table:
        pieces = [*parts, end_slice] if end_slice is not None and end_slice.num_rows else parts
        return pieces[0] if len(pieces) == 1 else pa.concat_tables(pieces)

    for chunk in chunks:
        runs = pc.run_end_encode(chunk.column("correlation_id").combine_chunks())
        start = begin = 0  # where the open group starts in this chunk; where the next run starts
        for corr, end in zip(runs.values.to_pylist(), runs.run_ends.to_pylist(), strict=True):
            if rows >= target and corr != last:
                yield group(chunk.slice(start, begin - start))
                parts, rows, start = [], 0, begin
            while rows + end - begin > limit:  # a long correlation: split at the limit
                cut = begin + limit - rows
                yield group(chunk.slice(start, cut - start))
                parts, rows, start, begin = [], 0, cut, cut
            rows += end - begin
            last, begin = corr, end
        if start < chunk.num_rows:
            parts.append(chunk.slice(start))
    if parts:
        yield group(None)


def write_parquet(tables: pa.Table | Iterable[pa.Table], path: Path, *, row_group_rows: int,
                  compression_level: int, segment: bool) -> tuple[int, str]:
    """Write a table, or a stream of tables with one schema, to ``path`` durably
    (tmp name, fsync, rename, fsync dir). Segments get row groups aligned to
    correlations (``aligned_row_groups``, about ``row_group_rows`` each); other
    tables fixed ones. Returns the file's size and SHA-256 (hex)."""
    tmp = path.with_name(path.name + ".tmp")
    options: dict = dict(compression="zstd", compression_level=compression_level, write_page_checksum=True)
    chunks: Iterable[pa.Table] = [tables] if isinstance(tables, pa.Table) else tables
    if segment:
        options.update(use_dictionary=_DICTIONARY, column_encoding=_DELTA, write_statistics=_STATISTICS)
        chunks = aligned_row_groups(chunks, row_group_rows)
    stream = iter(chunks)
    first = next(stream)
    try:
        with pq.ParquetWriter(tmp, first.schema, **options) as writer:
            for group in itertools.chain([first], stream):
                writer.write_table(group, row_group_size=group.num_rows if segment else row_group_rows)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        size, digest = tmp.stat().st_size, file_sha256(tmp)
    except BaseException:  # a full disk, say: leave no half-written file to fill it further
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    fsync_dir(path.parent)
    return size, digest


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class OpenFiles:
    """Which segment files are open, least recently used first.

    An open Parquet file holds its parsed footer: ~1.4 KB per row group on
    disk, ~16 KiB of memory once parsed, so ~15 MiB per million envelopes. The budget caps the row groups held
    open; past it the least recently used file is dropped (a read in progress
    keeps its own reference, so dropping never disturbs it)."""

    def __init__(self, max_row_groups: int) -> None:
        self.max_row_groups = max_row_groups
        self._open: dict[int, SegmentFile] = {}  # insertion order = recency
        self._lock = threading.Lock()

    def touch(self, segment: SegmentFile) -> None:
        with self._lock:
            self._open.pop(id(segment), None)
            self._open[id(segment)] = segment
            held = sum(len(s._starts) for s in self._open.values())
            for key in list(self._open):
                if held <= self.max_row_groups or key == id(segment):
                    break
                victim = self._open.pop(key)
                held -= len(victim._starts)
                victim._drop()

    def forget(self, segment: SegmentFile) -> None:
        with self._lock:
            self._open.pop(id(segment), None)


class SegmentFile:
    """Random access to the rows of one sealed segment, opened on first read."""

    def __init__(self, path: Path, *, verify_checksums: bool = True, pool: OpenFiles | None = None) -> None:
        self.path = path
        self._verify = verify_checksums
        self._pool = pool
        self._file: pq.ParquetFile | None = None
        self._starts: list[int] = []
        self._rows = 0

    def _open(self) -> pq.ParquetFile:
        f = self._file
        if f is None:
            f = pq.ParquetFile(self.path, page_checksum_verification=self._verify)
            starts, at = [], 0
            for i in range(f.metadata.num_row_groups):
                starts.append(at)
                at += f.metadata.row_group(i).num_rows
            self._file, self._starts, self._rows = f, starts, at
        if self._pool is not None:
            self._pool.touch(self)
        return f

    def _drop(self) -> None:
        """Let go of the file (readers holding it finish undisturbed)."""
        self._file = None

    @property
    def num_rows(self) -> int:
        self._open()
        return self._rows

    @property
    def num_row_groups(self) -> int:
        self._open()
        return len(self._starts)

    def row_group_start(self, group: int) -> int:
        self._open()
        return self._starts[group]

    def read_rows(self, first_row: int, count: int, columns: list[str] | None = None) -> pa.Table:
        """Rows ``[first_row, first_row + count)``, decoding only their row groups."""
        f = self._open()
        starts = self._starts
        g0 = bisect.bisect_right(starts, first_row) - 1
        g1 = bisect.bisect_right(starts, first_row + count - 1) - 1
        table = f.read_row_groups(range(g0, g1 + 1), columns=columns, use_threads=False)
        return table.slice(first_row - starts[g0], count)

    def take(self, rows: list[int]) -> pa.Table:
        """The given rows (sorted), decoding each needed row group once."""
        f = self._open()
        groups: dict[int, list[int]] = {}
        for row in rows:
            g = bisect.bisect_right(self._starts, row) - 1
            groups.setdefault(g, []).append(row - self._starts[g])
        parts = [f.read_row_group(g).take(pa.array(offsets)) for g, offsets in groups.items()]
        return pa.concat_tables(parts)

    def read_row_group(self, group: int, columns: list[str] | None = None) -> pa.Table:
        return self._open().read_row_group(group, columns=columns)

    def read_columns(self, columns: list[str]) -> pa.Table:
        return self._open().read(columns=columns)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.forget(self)
        self._file = None
