"""Committed records that are not sealed yet (they live in WAL files)."""

from __future__ import annotations

import time
from pathlib import Path

from chatsnapshot.ledger.records import Record

__all__ = ["Buffer"]


class Buffer:
    """Records in position order, indexed by event id and by correlation.

    A buffer is *live* while the writer appends to it and *frozen* once the
    WAL has rotated away from it and it waits to be sealed. Only the writer's
    commit path mutates it; readers take a snapshot of the lists and filter by
    the durable position.
    """

    __slots__ = ("by_corr", "by_id", "first_added", "nbytes", "records", "wal_paths")

    def __init__(self, wal_paths: list[Path]) -> None:
        self.records: list[Record] = []
        self.by_id: dict[bytes, Record] = {}
        self.by_corr: dict[str, list[Record]] = {}
        self.nbytes = 0
        self.first_added: float | None = None  # monotonic time of the first record
        self.wal_paths = wal_paths

    def add(self, record: Record) -> None:
        if not self.records:
            self.first_added = time.monotonic()
        self.records.append(record)
        self.by_id[record.event_id] = record
        chain = self.by_corr.get(record.correlation_id)
        if chain is None:
            self.by_corr[record.correlation_id] = [record]
        else:
            chain.append(record)
        self.nbytes += _size(record)

    def drop_after(self, position: int) -> list[Record]:
        """Remove the records above ``position`` (a rollback); returns them."""
        dropped = []
        while self.records and self.records[-1].position > position:
            r = self.records.pop()
            del self.by_id[r.event_id]
            chain = self.by_corr[r.correlation_id]
            chain.pop()
            if not chain:
                del self.by_corr[r.correlation_id]
            self.nbytes -= _size(r)
            dropped.append(r)
        return dropped

    @property
    def last_position(self) -> int:
        return self.records[-1].position if self.records else 0

    def __len__(self) -> int:
        return len(self.records)


def _size(record: Record) -> int:
    """Approximate bytes a record takes in the WAL (for the seal threshold)."""
    return len(record.payload) + len(record.correlation_id) + 220
