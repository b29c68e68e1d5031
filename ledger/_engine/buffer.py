"""Committed records that are not sealed yet (they live in WAL files)."""

from __future__ import annotations

import time
from pathlib import Path

from chatsnapshot.ledger.records import CORRELATION_ID, EVENT_ID, POSITION, Row, wal_size

__all__ = ["Buffer"]


class Buffer:
    """Rows (records as plain tuples) in position order, indexed by event id
    and by correlation.

    A buffer is *live* while the writer appends to it and *frozen* once the
    WAL has rotated away from it and it waits to be sealed. Only the writer's
    commit path mutates it (the hot path inlines ``add``); readers take a
    snapshot of the lists and filter by the durable position.
    """

    __slots__ = ("by_corr", "by_id", "first_added", "nbytes", "records", "wal_paths")

    def __init__(self, wal_paths: list[Path]) -> None:
        self.records: list[Row] = []
        self.by_id: dict[bytes, Row] = {}
        self.by_corr: dict[str, list[Row]] = {}
        self.nbytes = 0  # bytes of the WAL bodies, for the seal threshold
        self.first_added: float | None = None  # monotonic time of the first record
        self.wal_paths = wal_paths

    def add(self, row: Row) -> None:
        if not self.records:
            self.first_added = time.monotonic()
        row = tuple(row)
        self.records.append(row)
        self.by_id[row[EVENT_ID]] = row
        self.by_corr.setdefault(row[CORRELATION_ID], []).append(row)
        self.nbytes += wal_size(row)

    def drop_after(self, position: int) -> list[Row]:
        """Remove the rows above ``position`` (a rollback); returns them."""
        dropped = []
        while self.records and self.records[-1][POSITION] > position:
            r = self.records.pop()
            del self.by_id[r[EVENT_ID]]
            chain = self.by_corr[r[CORRELATION_ID]]
            chain.pop()
            if not chain:
                del self.by_corr[r[CORRELATION_ID]]
            self.nbytes -= wal_size(r)
            dropped.append(r)
        if not self.records:
            self.first_added = None  # empty again: nothing waits to be sealed
        return dropped

    @property
    def last_position(self) -> int:
        return self.records[-1][POSITION] if self.records else 0

    def __len__(self) -> int:
        return len(self.records)
