"""What every store offers: the ``Ledger`` verbs as a structural type.

``Ledger`` (WAL + Parquet on disk) and ``MemoryLedger`` (in memory) both satisfy
these protocols without inheriting from them; the receiver, the exporters and
the LedgerService are written against them, so any store that passes the
conformance suite (``tests/ledger/conformance.py``) can stand behind them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from chatsnapshot.ledger.checkpoint import InclusionProof
from chatsnapshot.ledger.envelope import Envelope
from chatsnapshot.ledger.results import AppendResult, CompactionReport, Rejection, RunSummary, VerifyReport

__all__ = ["Store", "StoreReader"]


class StoreReader(Protocol):
    """Reading: replay a run, follow the ledger in commit order, summarise, query, verify."""

    @property
    def path(self) -> Path: ...

    @property
    def last_position(self) -> int: ...

    def replay(self, correlation_id: str, after_seq: int = 0) -> Iterator[Envelope]: ...

    def since(self, after_position: int = 0, limit: int = 1000) -> list[Envelope]: ...

    def runs(self) -> list[RunSummary]: ...

    def sql(self, query: str) -> pa.Table: ...

    def sql_confined(self, query: str, timeout: float | None = None) -> pa.Table: ...

    def verify(self, correlation_id: str | None = None) -> VerifyReport: ...

    def latest_checkpoint(self) -> str | None: ...

    def prove(self, event_id: str, checkpoint: str | None = None) -> InclusionProof: ...

    def close(self) -> None: ...

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: Any) -> None: ...


class Store(StoreReader, Protocol):
    """Reading and writing: append durably and idempotently, keep rejected facts, seal, compact.

    ``writable``: whether the store accepts appends now (a receiver's readiness)."""

    @property
    def writable(self) -> bool: ...

    def append(self, envelopes: Iterable[Envelope]) -> list[AppendResult]: ...

    def dead_letter(self, rejections: Sequence[Rejection]) -> None: ...

    def seal(self) -> int: ...

    def compact(self) -> CompactionReport: ...


if TYPE_CHECKING:  # the type checker proves that both stores are Stores
    from chatsnapshot.ledger.ledger import Ledger, LedgerReader
    from chatsnapshot.ledger.memory import MemoryLedger

    def _both_stores(disk: Ledger, memory: MemoryLedger, reader: LedgerReader) -> tuple[Store, Store, StoreReader]:
        return disk, memory, reader
