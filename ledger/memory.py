"""``MemoryLedger``: the ledger's contracts in memory, a second store behind the same verbs.

For tests and programs where the disk is not the point (the receiver's and the
exporters' unit tests use it as their sink). It keeps every contract that does
not need a disk, and passes the store conformance suite except the tests that
kill or start processes:

* idempotent by ``event_id``: a re-delivered fact is DUPLICATE, the same id with
  other content a CONFLICT (the stored one stays), as in ``Ledger``;
* ``seq`` gapless per correlation, ``position`` strictly increasing, replay in seq order;
* every envelope chained per correlation with the same canonical encoding and
  SHA-256 (``ledger.records``), so ``verify`` and an independent verifier agree;
* one writer per name: a second writable open of the same name while the first
  is open gets ``LedgerLockedError``; readers see everything at once.

"Durable" means: for the life of the process. Opening the same name again (after
``close``) finds what was stored, as reopening a directory would; nothing
survives the process. ``sql`` runs DuckDB over the same ``envelopes``, ``runs``
and ``dead_letters`` views as the disk store, so a query means the same on both.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

import pyarrow as pa

from chatsnapshot.errors import CheckpointError, LedgerClosedError, LedgerLockedError
from chatsnapshot.ledger._engine.segment import records_to_table
from chatsnapshot.ledger._engine.sqlviews import (
    CONFINED_ANSWER,
    arrow_of,
    confine,
    create_views,
    interrupted_after,
    refuse_writing,
)
from chatsnapshot.ledger.causes import SqlCauseLookup, resolve_causes
from chatsnapshot.ledger.checkpoint import InclusionProof
from chatsnapshot.ledger.envelope import FORK_TYPE, Envelope, check_not_reserved
from chatsnapshot.ledger.ids import uuid_bytes
from chatsnapshot.ledger.records import (
    GENESIS,
    SALT_BYTES,
    Record,
    digest,
    draft,
    duplicate_or_conflict,
    record_to_envelope,
)
from chatsnapshot.ledger.results import (
    AppendResult,
    AppendStatus,
    ChainBreak,
    CompactionReport,
    Rejection,
    RunSummary,
    VerifyReport,
)
from chatsnapshot.ledger.timestamps import format_rfc3339_ns

__all__ = ["MemoryLedger"]


@dataclass
class _State:
    """What one name holds. ``lock`` guards everything below it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    writer_open: bool = False
    records: list[Record] = field(default_factory=list)  # in position order
    by_id: dict[bytes, Record] = field(default_factory=dict)
    by_corr: dict[str, list[Record]] = field(default_factory=dict)
    dead_letters: list[Rejection] = field(default_factory=list)
    recorded_at: int = 0


class MemoryLedger:
    """``MemoryLedger.open(name)``: the ``Ledger`` verbs over a store in this process's memory."""

    _names: ClassVar[dict[str, _State]] = {}
    _names_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, name: str, state: _State, *, readonly: bool) -> None:
        self._name, self._state, self._readonly = name, state, readonly
        self._closed = False

    @classmethod
    def open(cls, path: str | Path = "memory", *, readonly: bool = False) -> Self:
        """Open the store called ``path`` (created on first use). Raises
        ``LedgerLockedError`` when another writable open of that name is open."""
        name = str(path)
        with cls._names_lock:
            state = cls._names.setdefault(name, _State())
        with state.lock:
            if not readonly:
                if state.writer_open:
                    raise LedgerLockedError(
                        f"the memory ledger {name!r} is open for writing in this process (pid {os.getpid()}); close it "
                        "first, or open it read-only")
                state.writer_open = True
        return cls(name, state, readonly=readonly)

    @classmethod
    def forget(cls, path: str | Path) -> None:
        """Drop what the store called ``path`` holds (a test's clean slate)."""
        with cls._names_lock:
            cls._names.pop(str(path), None)

    def close(self) -> None:
        """Release the writer's claim on the name. Idempotent; the data stays."""
        if self._closed:
            return
        self._closed = True
        if not self._readonly:
            with self._state.lock:
                self._state.writer_open = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _check(self, *, writing: bool = False) -> None:
        if self._closed:
            raise LedgerClosedError(f"memory ledger {self._name!r} is closed; open it again")
        if writing and self._readonly:
            raise TypeError(f"memory ledger {self._name!r} is open read-only")

    # -- properties ----------------------------------------------------------------

    @property
    def path(self) -> Path:
        return Path(self._name)

    @property
    def readonly(self) -> bool:
        return self._readonly

    @property
    def writable(self) -> bool:
        return not self._closed and not self._readonly

    @property
    def last_position(self) -> int:
        self._check()
        with self._state.lock:
            return self._state.records[-1].position if self._state.records else 0

    # -- writing -------------------------------------------------------------------

    def append(self, envelopes: Iterable[Envelope]) -> list[AppendResult]:
        """Store envelopes; one result per envelope, in order (see ``Ledger.append``)."""
        self._check(writing=True)
        batch = list(envelopes)
        for e in batch:
            if not isinstance(e, Envelope):
                raise TypeError(f"append takes Envelope objects, got {type(e).__name__}")
            check_not_reserved(e.event_type, e.correlation_id)
        s = self._state
        results = []
        with s.lock:
            now = s.recorded_at = max(time.time_ns(), s.recorded_at)
            for env in batch:
                eid = uuid_bytes(env.event_id)
                stored = s.by_id.get(eid)
                if stored is not None:
                    results.append(duplicate_or_conflict(env, stored))
                    continue
                chain = s.by_corr.setdefault(env.correlation_id, [])
                seq, prev = (chain[-1].seq, chain[-1].hash) if chain else (0, GENESIS)
                position = s.records[-1].position + 1 if s.records else 1
                fields = draft(env)._replace(recorded_at=now, seq=seq + 1, position=position, prev_hash=prev,
                                             payload_salt=os.urandom(SALT_BYTES))
                record = fields._replace(hash=digest(fields))
                s.records.append(record)
                s.by_id[eid] = record
                chain.append(record)
                results.append(AppendResult(env.event_id, AppendStatus.STORED, record.seq, position))
        return results

    def dead_letter(self, rejections: Sequence[Rejection]) -> None:
        """Keep rejected facts in the ``dead_letters`` view."""
        self._check(writing=True)
        with self._state.lock:
            self._state.dead_letters.extend(rejections)

    def seal(self) -> int:
        """Nothing to seal in memory; returns 0."""
        self._check(writing=True)
        return 0

    def compact(self) -> CompactionReport:
        """Nothing to compact in memory."""
        self._check(writing=True)
        return CompactionReport()

    # -- reading -------------------------------------------------------------------

    def replay(self, correlation_id: str, after_seq: int = 0) -> Iterator[Envelope]:
        """The envelopes of ``correlation_id`` with ``seq > after_seq``, in seq order."""
        self._check()
        with self._state.lock:
            chain = list(self._state.by_corr.get(correlation_id, ()))
        return iter(resolve_causes([record_to_envelope(r) for r in chain[after_seq:]], SqlCauseLookup(self.sql),
                                   complete=after_seq == 0))

    def since(self, after_position: int = 0, limit: int = 1000) -> list[Envelope]:
        """Up to ``limit`` envelopes with ``position > after_position``, in position order."""
        self._check()
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        with self._state.lock:
            chosen = self._state.records[after_position:after_position + limit]  # positions are 1..N
        return list(resolve_causes([record_to_envelope(r) for r in chosen], SqlCauseLookup(self.sql), complete=False))

    def runs(self) -> list[RunSummary]:
        """One summary per correlation, ordered by first occurrence."""
        self._check()
        with self._state.lock:
            chains = [list(c) for c in self._state.by_corr.values() if c]
        summaries = []
        for chain in chains:
            counts: dict[str, int] = {}
            for r in chain:
                counts[r.event_type] = counts.get(r.event_type, 0) + 1
            named = [c for r in chain if r.source_runtime == "none"
                     and isinstance(c := json.loads(r.payload).get("conversation_id"), str)]
            first = chain[0]
            forked = json.loads(first.payload).get("forked_from") if first.event_type == FORK_TYPE else None
            summaries.append(RunSummary(first.correlation_id, min(r.occurred_at for r in chain),
                                        max(r.occurred_at for r in chain), len(chain), counts,
                                        chain[-1].event_type, chain[-1].seq, max(named, default=None), forked))
        return sorted(summaries, key=lambda s: (s.first_occurred_at, s.correlation_id))

    def sql(self, query: str) -> pa.Table:
        """Run a DuckDB query over ``envelopes``, ``runs`` and ``dead_letters`` (as on disk)."""
        return self._query(query)

    def sql_confined(self, query: str, timeout: float | None = None) -> pa.Table:
        """``sql`` for an untrusted caller, as ``Ledger.sql_confined`` (no files at all here)."""
        refuse_writing(query)
        return self._query(query, confined=True, timeout=timeout)

    def _query(self, query: str, *, confined: bool = False, timeout: float | None = None) -> pa.Table:
        self._check()
        import duckdb

        with self._state.lock:
            records = list(self._state.records)
            dead = list(self._state.dead_letters)
        con = duckdb.connect(":memory:")
        try:
            con.register("_unsealed", records_to_table(records))
            con.execute("CREATE VIEW _sealed AS SELECT * FROM _unsealed WHERE false")
            create_views(con)
            con.register("_dead", _dead_letters_table(dead))
            con.execute("CREATE VIEW dead_letters AS SELECT received_at::TIMESTAMPTZ AS received_at, reason, field, "
                        "event_type, correlation_id, trace_id, span_id, service, attributes::JSON AS attributes "
                        "FROM _dead")
            if confined:
                confine(con)
            with interrupted_after(con, timeout):
                return arrow_of(con.sql(query), CONFINED_ANSWER if confined else None)
        finally:
            con.close()

    def latest_checkpoint(self) -> str | None:
        """A memory store writes no checkpoints (nothing of it outlives the process)."""
        return None

    def prove(self, event_id: str, checkpoint: str | None = None) -> InclusionProof:
        """Raises ``CheckpointError``: a memory store commits to nothing that outlives it."""
        raise CheckpointError("a memory store keeps no checkpoints, so it proves nothing: use a ledger directory")

    def verify(self, correlation_id: str | None = None) -> VerifyReport:
        """Recompute every hash chain (or one correlation's)."""
        self._check()
        with self._state.lock:
            chains = {c: list(rs) for c, rs in self._state.by_corr.items()
                      if correlation_id is None or c == correlation_id}
        report = VerifyReport(correlations=len(chains))
        for corr, chain in chains.items():
            prev = GENESIS
            for expected_seq, r in enumerate(chain, 1):
                report.envelopes += 1
                reason = None
                if r.seq != expected_seq:
                    reason = f"seq {r.seq} where {expected_seq} was expected"
                elif r.prev_hash != prev:
                    reason = "prev_hash does not name the previous envelope's hash"
                elif digest(r) != r.hash:
                    reason = "hash does not match the envelope's content"
                if reason is not None:
                    report.breaks.append(ChainBreak(corr, r.seq, reason))
                    break
                prev = r.hash
        return report


def _dead_letters_table(rejections: list[Rejection]) -> pa.Table:
    columns: dict[str, list[Any]] = {
        "received_at": [format_rfc3339_ns(r.received_at) for r in rejections],
        "reason": [r.reason for r in rejections], "field": [r.field for r in rejections],
        "event_type": [r.event_type for r in rejections], "correlation_id": [r.correlation_id for r in rejections],
        "trace_id": [r.trace_id for r in rejections], "span_id": [r.span_id for r in rejections],
        "service": [r.service for r in rejections], "attributes": [r.attributes_json for r in rejections],
    }
    return pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})
