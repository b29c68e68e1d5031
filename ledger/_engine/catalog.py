"""The sealed segments as the running process sees them.

For each segment the catalog can answer two questions without scanning it:

* *where are correlation C's rows?* through the segment's index file (loaded
  whole by the writer; read with a filter, one row group, by a reader process);
* *is event id E in here?* (writer only) through a sorted array of 64-bit
  fingerprints of the segment's event ids, 8 bytes per envelope, searched for a
  whole batch at once with numpy. A fingerprint hit is only a candidate: the
  segment's ``event_id`` column confirms it, so a fingerprint collision costs a
  read, never a wrong answer. UUIDv7 ids carry the millisecond they were made,
  so a segment whose UUIDv7 ids span other times is not searched at all for
  them: new facts are checked against recent segments only.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from chatsnapshot.ledger._engine.layout import Layout
from chatsnapshot.ledger._engine.manifest import SegmentEntry
from chatsnapshot.ledger._engine.segment import OpenFiles, SegmentFile, table_to_records
from chatsnapshot.ledger._engine.segment_index import IndexEntry
from chatsnapshot.ledger.records import Record

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Catalog", "Segment", "fingerprints"]

_MIX = 0x9E3779B97F4A7C15


def fingerprints(raw_ids: bytes | memoryview, count: int) -> np.ndarray:
    """64-bit fingerprints of ``count`` concatenated 16-byte ids."""
    import numpy as np  # only the writer needs numpy; readers start faster without it

    pairs = np.frombuffer(raw_ids, dtype=np.uint64, count=2 * count).reshape(-1, 2)
    with np.errstate(over="ignore"):
        return pairs[:, 0] ^ (pairs[:, 1] * np.uint64(_MIX))


def _id_column_fingerprints(column: pa.ChunkedArray) -> tuple[np.ndarray, tuple[int, int] | None]:
    """Sorted fingerprints of an event_id column, and the (min, max) UUIDv7
    millisecond of its v7 ids (None when it has none)."""
    arr = column.combine_chunks()
    storage = arr.storage if isinstance(arr, pa.ExtensionArray) else arr
    buf = storage.buffers()[1]
    raw = memoryview(buf)[storage.offset * 16:(storage.offset + len(storage)) * 16]
    fps = fingerprints(raw, len(storage)).copy()
    fps.sort()
    return fps, _v7_span(raw, len(storage))


def _v7_millis(raw: bytes | memoryview, count: int) -> np.ndarray:
    """The UUIDv7 millisecond of each 16-byte id; -1 for ids of other versions."""
    import numpy as np

    ids = np.frombuffer(raw, dtype=np.uint8, count=16 * count).reshape(-1, 16)
    wide = np.zeros((count, 8), dtype=np.uint8)
    wide[:, 2:] = ids[:, :6]  # the 48-bit big-endian millisecond, widened to 64 bits
    millis = wide.view(">u8").ravel().astype(np.int64)
    return np.where(ids[:, 6] >> 4 == 7, millis, -1)


def _v7_span(raw: bytes | memoryview, count: int) -> tuple[int, int] | None:
    millis = _v7_millis(raw, count)
    v7 = millis[millis >= 0]
    return (int(v7.min()), int(v7.max())) if len(v7) else None


class _IndexFile:
    """A reader's handle on one index file, opened on first use.

    The index is sorted by correlation_id, so the row groups' max statistics say
    which one can hold a correlation: a lookup decodes one small row group, once
    (and needs no pyarrow.dataset, so a reader process starts faster)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._file: pq.ParquetFile | None = None
        self._highs: list[str] = []
        self._groups: dict[int, tuple[list[str], pa.Table]] = {}

    def lookup(self, correlation_id: str) -> IndexEntry | None:
        if self._file is None:
            f = pq.ParquetFile(self._path)
            col = f.metadata.schema.names.index("correlation_id")
            self._highs = [f.metadata.row_group(g).column(col).statistics.max
                           for g in range(f.metadata.num_row_groups)]
            self._file = f
        group = bisect.bisect_left(self._highs, correlation_id)
        if group == len(self._highs):
            return None
        if group not in self._groups:
            table = self._file.read_row_group(group, use_threads=False)
            self._groups[group] = (table.column("correlation_id").to_pylist(), table)
        keys, table = self._groups[group]
        at = bisect.bisect_left(keys, correlation_id)
        if at == len(keys) or keys[at] != correlation_id:
            return None
        row = table.slice(at, 1).to_pylist()[0]
        return IndexEntry(row["first_row"], row["row_count"], row["first_seq"], row["last_seq"], row["last_hash"])


def _index_dict(table: pa.Table) -> dict[str, IndexEntry]:
    cols = [table.column(n).to_pylist() for n in
            ("correlation_id", "first_row", "row_count", "first_seq", "last_seq", "last_hash")]
    return {c: IndexEntry(*rest) for c, *rest in zip(*cols, strict=True)}


@dataclass
class Segment:
    """One sealed segment: its manifest entry, file, index, fingerprints."""

    entry: SegmentEntry
    file: SegmentFile | None
    index: dict[str, IndexEntry] | None = None  # whole index (writer), else None
    fps: np.ndarray | None = None  # sorted fingerprints (writer), else None
    v7_span: tuple[int, int] | None = None  # (min, max) UUIDv7 millisecond of its v7 ids (writer)
    _index_path: str = field(default="", repr=False)
    _index_file: _IndexFile | None = field(default=None, repr=False)

    def locate(self, correlation_id: str) -> IndexEntry | None:
        """Where ``correlation_id``'s rows are in this segment, if anywhere."""
        if self.index is not None:
            return self.index.get(correlation_id)
        if self._index_file is None:
            self._index_file = _IndexFile(self._index_path)
        return self._index_file.lookup(correlation_id)

    def full_index(self) -> dict[str, IndexEntry]:
        """Every correlation of this segment and where its rows are."""
        if self.index is not None:
            return self.index
        return _index_dict(pq.read_table(self._index_path))

    def find_ids(self, candidates: list[bytes]) -> list[Record]:
        """The stored records among ``candidates`` (ids as 16 bytes)."""
        assert self.file is not None
        import pyarrow.compute as pc

        ids = self.file.read_columns(["event_id"]).column("event_id").combine_chunks().storage
        rows = pc.indices_nonzero(pc.is_in(ids, pa.array(candidates, pa.binary(16)))).to_pylist()
        return table_to_records(self.file.take(rows)) if rows else []

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


class _Probe:
    """The segments ``Catalog.find_ids`` looks through, with their UUIDv7 spans as arrays.
    A segment without v7 ids spans nothing (its low above its high): only ids that are
    not v7 are looked for there."""

    def __init__(self, segments: list[Segment]) -> None:
        import numpy as np

        self.segments = segments
        spans = [s.v7_span or (1, 0) for s in segments]
        self.lows = np.array([lo for lo, _ in spans], dtype=np.int64)
        self.highs = np.array([hi for _, hi in spans], dtype=np.int64)


class Catalog:
    """Sealed segments in position order, with lookups across them."""

    def __init__(self, layout: Layout, *, writer: bool, open_row_groups: int) -> None:
        self._layout = layout
        self._writer = writer
        self._files = OpenFiles(open_row_groups)
        self.segments: list[Segment] = []
        self._probe: _Probe | None = None  # what find_ids looks through; rebuilt when the segments change

    def open_segment(self, entry: SegmentEntry, table: pa.Table | None = None,
                     index: pa.Table | None = None) -> Segment:
        """A ``Segment`` for ``entry``. The writer may pass the table and the index
        it just wrote, to take them from memory rather than from the files."""
        if not entry.healthy:
            return Segment(entry, None)
        path = self._layout.root / entry.file
        index_path = str(self._layout.root / entry.index_file)
        seg = Segment(entry, SegmentFile(path, pool=self._files), _index_path=index_path)
        if self._writer:
            seg.index = _index_dict(index if index is not None else pq.read_table(index_path))
            ids = table.column("event_id") if table is not None else pq.read_table(path, columns=["event_id"]).column(0)
            seg.fps, seg.v7_span = _id_column_fingerprints(ids)
        return seg

    def load(self, entries: Iterable[SegmentEntry], previous: Catalog | None = None) -> None:
        """Open ``entries``. A reader reloading after the manifest changed passes
        its ``previous`` catalog: segments it already had (the same manifest
        entry) are kept, with their open files, so a reload does not make replay
        cold again."""
        known: dict[SegmentEntry, Segment] = {}
        if previous is not None:
            self._files = previous._files
            known = {s.entry: s for s in previous.segments if s.entry.healthy}
        self.segments = [known.get(e) or self.open_segment(e) for e in entries]
        self._probe = None

    def add(self, segment: Segment) -> None:
        self.segments.append(segment)
        self.segments.sort(key=lambda s: s.entry.first_position)
        self._probe = None

    def replace(self, old_ids: set[int], new: list[Segment]) -> list[Segment]:
        """Swap segments (compaction); returns the removed ones."""
        removed = [s for s in self.segments if s.entry.id in old_ids]
        self.segments = [s for s in self.segments if s.entry.id not in old_ids] + new
        self.segments.sort(key=lambda s: s.entry.first_position)
        self._probe = None
        return removed

    def find_ids(self, ids: list[bytes]) -> dict[bytes, Record]:
        """The stored records, by id, for those of ``ids`` that any sealed
        segment holds. Writer only. Costs one probe per segment whose UUIDv7 time
        span meets the ids' (new ids meet only the newest few), not one per segment;
        a batch with an id of another UUID version probes every segment."""
        if self._probe is None:
            self._probe = _Probe([s for s in self.segments if s.fps is not None and len(s.fps)])
        probe = self._probe
        if not ids or not probe.segments:
            return {}
        import numpy as np

        raw = b"".join(ids)
        query = fingerprints(raw, len(ids))
        millis = _v7_millis(raw, len(ids))
        untimed = millis < 0  # ids that are not UUIDv7 must be looked for everywhere
        if untimed.any():
            near: Iterable[int] = range(len(probe.segments))
        else:
            near = np.flatnonzero((probe.lows <= millis.max()) & (probe.highs >= millis.min())).tolist()
        found: dict[bytes, Record] = {}
        for k in near:
            seg = probe.segments[k]
            fps = seg.fps
            assert fps is not None
            span = seg.v7_span
            mask = untimed if span is None else untimed | ((millis >= span[0]) & (millis <= span[1]))
            if not mask.any():
                continue
            wanted = np.flatnonzero(mask)
            candidates = query[wanted]
            at = np.minimum(np.searchsorted(fps, candidates), len(fps) - 1)
            hits = wanted[fps[at] == candidates]
            if len(hits):
                for rec in seg.find_ids([ids[i] for i in hits]):
                    found[rec.event_id] = rec
        return found

    def close(self) -> None:
        for s in self.segments:
            s.close()
