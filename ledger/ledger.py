"""``Ledger`` and ``LedgerReader``: the durable, ordered, tamper-evident store of envelopes.

A handful of verbs; the storage engine behind them is private (``ledger._engine``)::

    with Ledger.open("./chatsnapshot-ledger") as ledger:
        ledger.append([Envelope.create("system.task_scheduled", correlation_id="run-1")])
        for env in ledger.replay("run-1"):
            print(env.seq, env.event_type)
        ledger.sql("SELECT event_type, count(*) FROM envelopes GROUP BY 1")
        assert ledger.verify().ok

Contracts (docs/contracts.md), each with its test in the conformance suite:

* ``append`` returns only when every stored envelope is durable (fsync'd WAL);
  one fsync serves every thread waiting at that moment.
* Idempotent by ``event_id`` across restarts: a re-delivered fact is reported
  DUPLICATE and stored once; same id with other content is a CONFLICT and the
  stored envelope is unchanged.
* ``seq`` is gapless per correlation, ``position`` strictly increasing;
  ``replay`` yields a correlation in seq order, the same every time.
* Every envelope is chained per correlation by SHA-256; nothing updates or
  deletes an envelope, except ``erase``, which replaces payloads with a marker
  and keeps every hash (they commit to salted payload digests); ``verify`` names
  the first broken ``(correlation, seq)``.
* One writer per directory (a second gets ``LedgerLockedError`` naming the
  holder); any number of read-only opens, in this process or others, see everything it
  acknowledged, at once: the sealed segments and, beyond them, the writer's WAL (read your
  writes; a frame written and not yet fsync'd is seen too, at most one group commit early).

``LedgerReader`` has the reading verbs; ``Ledger`` is a reader that also
writes. ``Ledger.open(path, readonly=True)`` (or ``LedgerReader.open(path)``)
returns a ``LedgerReader``, so appending to a read-only open is a type error,
not a surprise at run time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Self, overload

import pyarrow as pa

from chatsnapshot.errors import CorruptSegmentError, ErasureError, LedgerClosedError
from chatsnapshot.ledger._engine.checkpoints import (
    audit_path,
    checkpoint_of,
    latest_checkpoint,
    origin_of,
    recomputed_frontier,
    sealed_frontier,
)
from chatsnapshot.ledger._engine.engine import ReadingEngine, WritingEngine
from chatsnapshot.ledger._engine.layout import Layout
from chatsnapshot.ledger._engine.manifest import Manifest
from chatsnapshot.ledger._engine.recovery import RecoveryReport
from chatsnapshot.ledger._engine.repair import RebuiltManifest as RepairReport
from chatsnapshot.ledger._engine.repair import repair_directory
from chatsnapshot.ledger._engine.snapshot import Snapshot, records_since, replay_records
from chatsnapshot.ledger._engine.sqlviews import SqlEngine
from chatsnapshot.ledger._engine.verify import verify
from chatsnapshot.ledger.causes import SqlCauseLookup, resolve_causes
from chatsnapshot.ledger.checkpoint import InclusionProof, SigningKey, VerifierKey, parse_note, sign, verify_note
from chatsnapshot.ledger.codec import envelope_to_json
from chatsnapshot.ledger.envelope import Envelope, check_not_reserved
from chatsnapshot.ledger.ids import uuid_bytes, uuid_text
from chatsnapshot.ledger.merkle import Frontier
from chatsnapshot.ledger.options import LedgerOptions
from chatsnapshot.ledger.records import record_to_envelope
from chatsnapshot.ledger.results import (
    AppendResult,
    CheckpointReport,
    CompactionReport,
    ErasureReport,
    Rejection,
    RunSummary,
    VerifyReport,
)

__all__ = ["Ledger", "LedgerReader", "RepairReport", "repair"]


class LedgerReader:
    """A ledger directory opened for reading: any number of processes, while a writer runs."""

    def __init__(self, layout: Layout, engine: ReadingEngine | WritingEngine) -> None:
        self._layout = layout
        self._engine = engine
        self._sql = SqlEngine()
        self._confined_sql = SqlEngine(confined=True)  # connects on its first query, as _sql
        self._closed = False

    @classmethod
    def open(cls, path: str | Path, *, options: LedgerOptions | None = None) -> LedgerReader:
        """Open the ledger at ``path`` for reading; nothing is created or changed.

        Raises ``LedgerNotFoundError`` when there is no ledger there,
        ``LedgerFormatError`` when it is not a ledger this version reads.
        """
        layout = Layout(path)
        return LedgerReader(layout, ReadingEngine(layout, (options or LedgerOptions()).validate()))

    # -- properties ----------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self._layout.root

    @property
    def readonly(self) -> bool:
        return not self._engine.writes

    @property
    def recovery(self) -> RecoveryReport:
        """What opening found: quarantined files, WAL records recovered, warnings."""
        return self._engine.recovery

    # -- verbs ---------------------------------------------------------------------

    def replay(self, correlation_id: str, after_seq: int = 0) -> Iterator[Envelope]:
        """The envelopes of ``correlation_id`` with ``seq > after_seq``, in seq order.

        Every handle sees everything durable: a reader reads a running writer's WAL beyond
        the sealed segments (and, when no writer runs, what a crashed writer left there).
        """
        self._check_open()
        snap = self._snapshot()

        def records() -> Iterator[Envelope]:
            nonlocal snap
            last = after_seq
            for attempt in range(3):
                try:
                    for record in replay_records(snap, correlation_id, last):
                        last = record.seq
                        yield record_to_envelope(record)
                    return
                except FileNotFoundError:
                    if self._engine.writes or attempt == 2:
                        raise
                    snap = self._snapshot(force=True)  # compacted meanwhile: resume after `last`
                except (OSError, pa.ArrowException) as e:
                    raise CorruptSegmentError(
                        f"a segment of {self.path} could not be read ({e}); run `chatsnapshot verify`"
                    ) from e

        def envelopes() -> Iterator[Envelope]:  # a run's causes resolve against the whole run
            yield from resolve_causes(list(records()), SqlCauseLookup(self.sql), complete=after_seq == 0)

        return envelopes()

    def holds(self, correlation_id: str) -> bool:
        """Whether this handle sees any envelope of ``correlation_id`` (reads one row at most)."""
        self._check_open()
        try:
            return next(replay_records(self._snapshot(), correlation_id), None) is not None
        except FileNotFoundError:  # compacted meanwhile
            return next(replay_records(self._snapshot(force=True), correlation_id), None) is not None

    def since(self, after_position: int = 0, limit: int = 1000) -> list[Envelope]:
        """Up to ``limit`` envelopes with ``position > after_position``, in position
        (commit) order, across all correlations: what ``tail`` follows. Every handle
        sees everything durable."""
        self._check_open()
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        for attempt in range(3):
            try:
                batch = [record_to_envelope(r) for r in records_since(self._snapshot(force=attempt > 0),
                                                                      after_position, limit)]
                return list(resolve_causes(batch, SqlCauseLookup(self.sql), complete=False))
            except FileNotFoundError:  # compacted meanwhile: take a fresh snapshot
                if self._engine.writes or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    @property
    def last_position(self) -> int:
        """The highest durable position this handle can see (0 when empty)."""
        self._check_open()
        return self._snapshot().durable

    def runs(self) -> list[RunSummary]:
        """One summary per correlation, ordered by first occurrence."""
        table = self.sql(
            "SELECT correlation_id, epoch_ns(first_occurred_at), epoch_ns(last_occurred_at), envelopes, "
            "event_types, last_event_type, last_seq FROM runs ORDER BY 2, 1"
        )
        rows = zip(*(c.to_pylist() for c in table.columns), strict=True)
        conversations = {r["correlation_id"]: r["conversation_id"]
                         for r in self.sql("SELECT correlation_id, conversation_id FROM run_conversations").to_pylist()}
        forks = {r["correlation_id"]: r["forked_from"]
                 for r in self.sql("SELECT correlation_id, forked_from FROM run_lineage").to_pylist()}
        return [RunSummary(c, f, la, n, dict(t), e, s, conversations.get(c), forks.get(c))
                for c, f, la, n, t, e, s in rows]

    def sql(self, query: str) -> pa.Table:
        """Run a DuckDB query over the views ``envelopes``, ``runs`` and ``dead_letters``.

        Raises ``duckdb.Error`` for an invalid query.
        """
        self._check_open()
        return self._sql.query([(self._snapshot(), self._layout)], query)

    def sql_confined(self, query: str, timeout: float | None = None) -> pa.Table:
        """``sql`` for a caller not trusted with this machine (``chatsnapshot sql --server``):
        reading statements only, no file outside the ledger, bounded memory, interrupted after
        ``timeout`` seconds (``ledger._engine.sqlviews.SqlEngine``). Raises ``QueryRefusedError``
        for a statement that would write, ``duckdb.Error`` for an invalid or interrupted query."""
        self._check_open()
        return self._confined_sql.query([(self._snapshot(), self._layout)], query, timeout)

    def verify(self, correlation_id: str | None = None) -> VerifyReport:
        """Recompute every hash chain (or one correlation's) and check every file."""
        self._check_open()
        snap = self._snapshot()
        return verify(snap, self._engine.manifest(), self._layout, correlation_id)

    # -- checkpoints -----------------------------------------------------------------

    def checkpoint(self, key: SigningKey | None = None) -> str:
        """A checkpoint of every sealed envelope (what any reader of the directory can check it
        against; a writer seals first with ``seal()`` to include the rest), as a note signed by
        ``key`` (unsigned when None). See ``ledger.checkpoint``."""
        self._check_open()
        manifest, snap = self._consistent()
        frontier = Frontier.from_json(manifest.tree) if manifest.tree is not None else sealed_frontier(snap)
        return sign(checkpoint_of(manifest, frontier), key)

    def latest_checkpoint(self) -> str | None:
        """The newest checkpoint the writer wrote after a seal (None: none yet)."""
        self._check_open()
        return latest_checkpoint(self._layout)

    def prove(self, event_id: str, checkpoint: str | None = None) -> InclusionProof:
        """An inclusion proof of the envelope ``event_id`` in ``checkpoint`` (a note; default:
        one of the ledger now). Raises ``LookupError`` when no envelope has that id, and
        ``CheckpointError`` when the envelope is not among those the checkpoint covers."""
        self._check_open()
        note = checkpoint if checkpoint is not None else self.checkpoint()
        target, _ = parse_note(note)
        found = self.sql("SELECT position, correlation_id, seq FROM envelopes "
                         f"WHERE event_id = '{uuid_text(uuid_bytes(event_id))}'").to_pylist()
        if not found:
            raise LookupError(f"no envelope {event_id} in {self.path}")
        position, correlation_id, seq = found[0]["position"], found[0]["correlation_id"], found[0]["seq"]
        index, path = audit_path(self._snapshot(), target, position, event_id)
        envelope = next(e for e in self.replay(correlation_id) if e.seq == seq)  # causes as a whole replay has them
        return InclusionProof(note, index, target.size, path, envelope_to_json(envelope))

    def verify_checkpoint(self, note: str, key: VerifierKey | None = None) -> CheckpointReport:
        """Whether the ledger today extends ``note``: its first ``size`` envelopes are exactly
        the ones the checkpoint committed to (``key`` checks the signature first; None skips it).
        Raises ``CheckpointError`` for a note that does not verify."""
        self._check_open()
        checkpoint = verify_note(note, key) if key is not None else parse_note(note)[0]
        manifest, snap = self._consistent()
        report = CheckpointReport(checkpoint.size, signed_by=key.name if key is not None else None)
        if manifest.ledger_id and checkpoint.origin != origin_of(manifest):
            report.problems.append(f"the checkpoint is of {checkpoint.origin}, this ledger is {origin_of(manifest)}")
            return report
        frontier, report.envelopes = recomputed_frontier(snap, checkpoint.size)
        if report.envelopes < checkpoint.size:
            report.problems.append(f"the ledger holds {report.envelopes} envelopes; the checkpoint committed to "
                                   f"{checkpoint.size}: envelopes were removed")
        if frontier.size == checkpoint.size and frontier.root() != checkpoint.root:
            report.problems.append(f"the first {frontier.size} envelopes are not the ones the checkpoint committed "
                                   "to: something before it was edited, removed, inserted, moved or re-chained")
        return report

    def _consistent(self) -> tuple[Manifest, Snapshot]:
        """A snapshot and the MANIFEST it matches (no seal finished in between)."""
        for _ in range(100):
            manifest = self._engine.manifest()
            snap = self._snapshot()
            if self._engine.manifest() is manifest:
                break
        return manifest, snap

    def close(self) -> None:
        """Release what this handle holds (a writer seals first and unlocks). Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._sql.close()
        self._confined_sql.close()
        self._engine.close()

    def __enter__(self) -> LedgerReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise LedgerClosedError(f"ledger {self.path} is closed; open it again")

    def _snapshot(self, *, force: bool = False) -> Snapshot:
        return self._engine.snapshot(force=force)


class Ledger(LedgerReader):
    """A ledger directory opened for writing: one process at a time."""

    _engine: WritingEngine

    def __init__(self, layout: Layout, engine: WritingEngine) -> None:
        super().__init__(layout, engine)

    @overload
    @classmethod
    def open(cls, path: str | Path, *, readonly: Literal[False] = False,
             options: LedgerOptions | None = None) -> Self: ...

    @overload
    @classmethod
    def open(cls, path: str | Path, *, readonly: Literal[True],
             options: LedgerOptions | None = None) -> LedgerReader: ...

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False,
             options: LedgerOptions | None = None) -> Self | LedgerReader:
        """Open (creating if needed) the ledger at ``path`` for writing; with
        ``readonly=True``, a ``LedgerReader`` that creates and changes nothing.

        The writer recovers the directory first (see ``ledger._engine.recovery``):
        read ``.recovery`` for what it found. Raises ``LedgerLockedError``
        when another process writes it, ``LedgerFormatError`` when it is not a
        ledger this version reads.
        """
        if readonly:
            return LedgerReader.open(path, options=options)
        layout = Layout(path)
        return cls(layout, WritingEngine(layout, (options or LedgerOptions()).validate()))

    @property
    def writable(self) -> bool:
        """Whether appends can go through now: open, the directory writable, no store fault (a
        faulted WAL or failing seals: a full disk); recovers by itself when the disk does."""
        return not self._closed and os.access(self.path, os.W_OK) and self._engine.healthy()

    def append(self, envelopes: Iterable[Envelope]) -> list[AppendResult]:
        """Store envelopes; one result per envelope, in order. Durable on return.

        Raises ``StoreUnavailableError`` (retryable; nothing in this call was
        acknowledged) when the disk refuses the write, and ``EnvelopeError`` (nothing stored) for
        a fact only the ledger writes (an erasure record: ``envelope.check_not_reserved``).
        """
        self._check_open()
        batch = list(envelopes)
        for e in batch:
            if isinstance(e, Envelope):
                check_not_reserved(e.event_type, e.correlation_id)
        return self._engine.append(batch)

    def dead_letter(self, rejections: Sequence[Rejection]) -> None:
        """Keep facts that promotion rejected, durably, in the ``dead_letters``
        table. Raises ``StoreUnavailableError`` when the disk refuses."""
        self._check_open()
        self._engine.dead_letter(rejections)

    def seal(self) -> int:
        """Seal the unsealed records into a segment now (readers see them
        afterwards). Returns how many envelopes were sealed."""
        self._check_open()
        return self._engine.seal()

    def compact(self) -> CompactionReport:
        """Merge adjacent small segments (see ``ledger._engine.compaction``). Envelopes never change."""
        self._check_open()
        return self._engine.compact()

    def erase(self, where: str, *, by: str, reason: str, dry_run: bool = False) -> ErasureReport:
        """Erase the payloads of the envelopes that ``where`` selects (a SQL condition over the
        ``envelopes`` view, e.g. ``correlation_id = 'run-7'``): each becomes an erasure marker
        saying ``by`` whom, when and why, while every hash chain and checkpoint still verifies
        (``ledger._engine.erasure``). The erasure itself is recorded as ``system.erasure`` facts
        in run ``chatsnapshot.erasures``. ``dry_run`` only counts. Raises ``ErasureError``
        (nothing erased) for an invalid condition or envelopes written in ledger format 1."""
        self._check_open()
        for name, value in (("by", by), ("reason", reason)):
            if not value or not value.strip():
                raise ErasureError(f"say {name} the erasure is made: it is kept with every erased envelope")
        return self._engine.erase(self.sql, where=where, by=by, reason=reason, dry_run=dry_run)

    def __enter__(self) -> Self:
        return self


def repair(path: str | Path, *, force: bool = False) -> RepairReport:
    """Rebuild a lost or unreadable MANIFEST from the ledger's segments and indexes (the old one
    is kept in ``quarantine/``). ``notes`` say what was done, ``unrecovered`` what could not be.
    Needs the writer lock: raises ``LedgerLockedError`` while a writer runs."""
    return repair_directory(Layout(path), force=force)
