"""The two faces of the engine that ``Ledger`` and ``LedgerReader`` stand on.

``ReadingEngine`` reads a directory without changing it and follows a writer in
another process: it re-reads the MANIFEST when it was replaced, and reads the
records the writer has put in its WAL but not sealed yet (read your writes from
another process), again only when a WAL file changed size. ``WritingEngine``
holds the writer lock and owns the writer, the sealer, the compactor, the
manifest keeper and the dead-letter file. The facade calls only these methods;
nothing outside ``_engine`` touches the parts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

import pyarrow as pa

from chatsnapshot.ledger._engine.buffer import Buffer
from chatsnapshot.ledger._engine.deadletters import DeadLetters
from chatsnapshot.ledger._engine.erasure import erase
from chatsnapshot.ledger._engine.layout import Layout
from chatsnapshot.ledger._engine.lock import writer_alive
from chatsnapshot.ledger._engine.manifest import Manifest
from chatsnapshot.ledger._engine.opening import ReaderParts, manifest_stamp, open_reader, open_writer
from chatsnapshot.ledger._engine.recovery import RecoveryReport, recover_wal
from chatsnapshot.ledger._engine.snapshot import Snapshot
from chatsnapshot.ledger._engine.wal import DurableMark
from chatsnapshot.ledger.envelope import Envelope
from chatsnapshot.ledger.options import LedgerOptions
from chatsnapshot.ledger.results import AppendResult, CompactionReport, ErasureReport, Rejection

__all__ = ["ReadingEngine", "WritingEngine"]

log = logging.getLogger("chatsnapshot.ledger")


class ReadingEngine:
    """A read-only view; ``snapshot`` reloads the segment list when the MANIFEST changed."""

    writes = False

    def __init__(self, layout: Layout, options: LedgerOptions) -> None:
        self._layout, self._options = layout, options
        self._stamp = manifest_stamp(layout)
        self._parts: ReaderParts = open_reader(layout, options)
        self._tail: tuple[tuple[object, ...], tuple[Buffer, ...], int] | None = None  # (key, buffers, durable)
        self._writer_seen = writer_alive(layout.lock)  # when it changes, what the WAL means changes

    @property
    def recovery(self) -> RecoveryReport:
        return self._parts.report

    def snapshot(self, *, force: bool = False) -> Snapshot:
        """What is durable now: what is sealed, and what the writer's WAL holds beyond it (a
        running writer's unsealed records, or what a crashed writer left); ``force`` re-reads the
        MANIFEST even if it looks unchanged."""
        alive = writer_alive(self._layout.lock)
        if alive != self._writer_seen:  # a writer came, or died: its WAL is read the other way now
            self._writer_seen, force = alive, True
        for _ in range(5):
            stamp = manifest_stamp(self._layout)
            if force or stamp != self._stamp:
                # Old snapshots keep their own segment files open; nothing is closed here.
                self._parts, self._stamp = open_reader(self._layout, self._options, self._parts), stamp
                self._tail = None
            try:
                buffers, durable = self._live_tail()
            except FileNotFoundError:  # the writer sealed and dropped a WAL file meanwhile
                buffers, durable = None, 0
            if buffers is not None and manifest_stamp(self._layout) == stamp:
                break
            force = True  # sealed while the WAL was read: read both again
        else:
            buffers, durable = (), 0  # a writer sealing without pause: what is sealed is still right
        parts = self._parts
        return Snapshot(tuple(parts.catalog.segments), parts.buffers + buffers, max(parts.durable, durable))

    def _live_tail(self) -> tuple[tuple[Buffer, ...], int]:
        """A running writer's records above what is sealed, read from its WAL (cached while the
        WAL files keep their sizes), up to its durable mark (``wal.DurableMark``): what it has
        acknowledged, never a frame written and not yet fsync'd (nor one it then rolls back)."""
        layout = self._layout
        if self._parts.buffers or not layout.wal.is_dir() or not writer_alive(layout.lock):
            return (), 0  # no writer: open_reader read what a crashed one left
        mark = DurableMark.read(layout.durable_mark)
        key = (mark, *((p.name, (st := p.stat()).st_ino, st.st_size, st.st_mtime_ns) for p in layout.wal_files()))
        if self._tail is None or self._tail[0] != key:
            wal = recover_wal(layout, self._parts.manifest.sealed_through, {}, RecoveryReport(), quarantine=False)
            records = wal.records if mark is None else [r for r in wal.records if r.position <= mark]
            buf = Buffer(wal.sources)
            for record in records:
                buf.add(record)
            self._tail = (key, (buf,) if records else (), records[-1].position if records else 0)
        return self._tail[1], self._tail[2]

    def manifest(self) -> Manifest:
        """The MANIFEST this view was opened with (and the losses a crashed writer's WAL shows)."""
        return self._parts.manifest

    def close(self) -> None:
        self._parts.catalog.close()


class WritingEngine:
    """The one writer of a directory: append, seal, compact, erase, dead letters, close."""

    writes = True

    def __init__(self, layout: Layout, options: LedgerOptions) -> None:
        self._parts = open_writer(layout, options)
        self._layout, self._options = layout, options
        self._dead_letters = DeadLetters(layout.dead_letters)

    @property
    def recovery(self) -> RecoveryReport:
        return self._parts.report

    @property
    def segment_count(self) -> int:
        """Segments the MANIFEST lists now."""
        return len(self._parts.keeper.current.segments)

    def healthy(self) -> bool:
        """The store takes writes now: no WAL fault, and sealing is not failing."""
        return self._parts.writer.healthy() and not self._parts.sealer.failing

    def snapshot(self, *, force: bool = False) -> Snapshot:
        """Everything durable, sealed or not (``force`` changes nothing for a writer)."""
        return self._parts.writer.snapshot()

    def manifest(self) -> Manifest:
        """The MANIFEST as this writer last saved it."""
        return self._parts.keeper.current

    def append(self, envelopes: Iterable[Envelope]) -> list[AppendResult]:
        return self._parts.writer.append(envelopes)

    def dead_letter(self, rejections: Sequence[Rejection]) -> None:
        self._dead_letters.append(rejections)

    def seal(self) -> int:
        return self._parts.sealer.seal_all()

    def compact(self) -> CompactionReport:
        self._parts.sealer.seal_all()
        return self._parts.compactor.compact()

    def erase(self, select: Callable[[str], pa.Table], *, where: str, by: str, reason: str,
              dry_run: bool) -> ErasureReport:
        return erase(self._parts, self._layout, self._options, select, where=where, by=by, reason=reason,
                     dry_run=dry_run)

    def close(self) -> None:
        """Stop the background threads, seal what is unsealed, release the lock."""
        w = self._parts
        w.compactor.stop()
        w.compactor.bury(grace=0)  # this process reads no more; other readers re-read the manifest
        w.sealer.stop()
        try:
            w.sealer.seal_all()
        except Exception:  # the WAL keeps the records; the next open seals them
            log.exception("could not seal on close; the next open recovers the WAL")
        w.writer.close()
        w.catalog.close()
        w.lock.release()
