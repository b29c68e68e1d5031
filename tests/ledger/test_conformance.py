"""The WAL + Parquet store runs the conformance suite."""

from __future__ import annotations

from chatsnapshot.ledger import Ledger
from tests.ledger.conformance import StoreConformance


class TestWalParquetStore(StoreConformance):
    FACTORY = "tests.ledger.conformance:open_default"

    def open_reader(self, path):
        return Ledger.open(path, readonly=True)
