"""The read path: a consistent snapshot, replay of one correlation, and the ledger in commit order."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from chatsnapshot.errors import CorruptSegmentError
from chatsnapshot.ledger._engine.buffer import Buffer
from chatsnapshot.ledger._engine.catalog import Segment
from chatsnapshot.ledger._engine.segment import table_to_records
from chatsnapshot.ledger.records import POSITION, SEQ, Record, Row

__all__ = ["Snapshot", "records_since", "replay_records"]


@dataclass(frozen=True)
class Snapshot:
    """What one read sees: sealed segments in position order, then unsealed
    buffers, and the highest durable position (records above it are not shown)."""

    segments: tuple[Segment, ...]
    buffers: tuple[Buffer, ...]
    durable: int

    def unsealed(self) -> list[Row]:
        """The durable unsealed rows, in position order."""
        return [r for b in self.buffers for r in b.records if r[POSITION] <= self.durable]


def replay_records(snap: Snapshot, correlation_id: str, after_seq: int = 0) -> Iterator[Record]:
    """``correlation_id``'s records with ``seq > after_seq``, in seq order.

    Segments are read in position order, so seqs come out ascending; a
    correlation's rows in one segment are one contiguous range, read through
    the segment's index without touching other row groups.
    """
    for seg in snap.segments:
        if seg.file is None:  # quarantined: its rows are missing, verify reports the gap
            continue
        loc = seg.locate(correlation_id)
        if loc is None or loc.last_seq <= after_seq:
            continue
        skip = max(0, after_seq - loc.first_seq + 1)
        records = table_to_records(seg.file.read_rows(loc.first_row + skip, loc.row_count - skip))
        if len(records) != loc.row_count - skip or any(r.correlation_id != correlation_id for r in records):
            raise CorruptSegmentError(
                f"{seg.entry.file} does not hold {correlation_id} where its index says (rows were inserted, "
                "deleted or moved); run `chatsnapshot verify`")
        yield from records
    for buf in snap.buffers:
        for r in buf.by_corr.get(correlation_id, ()):
            if r[SEQ] > after_seq and r[POSITION] <= snap.durable:
                yield Record._make(r)


def records_since(snap: Snapshot, after_position: int, limit: int) -> list[Record]:
    """Up to ``limit`` records with ``position > after_position``, in position order
    (every correlation: what a tail follows).

    Segments hold disjoint, ascending position ranges, so only those ending past
    ``after_position`` are read. Inside a segment rows are sorted by correlation,
    not position: the ``position`` column is read whole, and only the rows wanted
    are decoded.
    """
    import numpy as np

    out: list[Record] = []
    for seg in snap.segments:
        if seg.file is None or seg.entry.last_position <= after_position:
            continue
        positions = seg.file.read_columns(["position"]).column(0).to_numpy()
        rows = np.flatnonzero(positions > after_position)
        rows = rows[np.argsort(positions[rows], kind="stable")][: limit - len(out)]
        table = seg.file.take(sorted(rows.tolist()))
        by_position = sorted(table_to_records(table), key=lambda r: r.position)
        out.extend(by_position)
        if len(out) >= limit:
            return out
    for buf in snap.buffers:
        for r in buf.records:
            if after_position < r[POSITION] <= snap.durable:
                out.append(Record._make(r))
                if len(out) >= limit:
                    return out
    return out
