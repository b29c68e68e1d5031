"""Both stores run the conformance suite: the WAL + Parquet ledger all of it, the
memory store every contract that holds within one process."""

from __future__ import annotations

from chatsnapshot.ledger import Ledger
from chatsnapshot.ledger.memory import MemoryLedger
from tests.ledger.conformance import DurableStoreConformance, StoreConformance


class TestWalParquetStore(DurableStoreConformance):
    FACTORY = "tests.ledger.conformance:open_default"

    def open_reader(self, path):
        return Ledger.open(path, readonly=True)


class TestMemoryStore(StoreConformance):
    def open(self, path):
        return MemoryLedger.open(path)

    def open_reader(self, path):
        return MemoryLedger.open(path, readonly=True)
