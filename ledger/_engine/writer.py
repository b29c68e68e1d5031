"""The commit path: sequencing, hash chain, WAL write, group commit.

``append`` takes the commit lock, decides per envelope whether it is new, a
duplicate or a conflict, assigns ``seq`` (per correlation), ``position``
(global) and ``recorded_at``, computes the chain hash, and writes the framed
records to the WAL. It then waits, outside the lock, until its last position is
durable. Group commit: the first waiter becomes the *leader* and fsyncs
everything written so far; those who wrote meanwhile wait for the next leader.
One fsync therefore serves every writer that was waiting at that moment, while
the next batch is being sequenced.

Faults: if a WAL write or fsync fails (disk full, I/O error), every waiter whose
records are not durable gets ``StoreUnavailableError`` and nothing of theirs is
acknowledged. The next ``append`` rolls the in-memory state back to the last
durable position, truncates the WAL there, and tries again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import NamedTuple

from chatsnapshot.errors import LedgerClosedError, StoreUnavailableError
from chatsnapshot.ledger._engine.buffer import Buffer
from chatsnapshot.ledger._engine.catalog import Catalog, Segment
from chatsnapshot.ledger._engine.layout import Layout
from chatsnapshot.ledger._engine.snapshot import Snapshot
from chatsnapshot.ledger._engine.wal import LENGTH as _LEN
from chatsnapshot.ledger._engine.wal import DurableMark, WalFile
from chatsnapshot.ledger.envelope import Envelope
from chatsnapshot.ledger.ids import uuid_bytes
from chatsnapshot.ledger.records import (
    CORRELATION_ID,
    GENESIS,
    MAGIC,
    MAGIC_1,
    PREV_HASH,
    SALT_BYTES,
    SEQ,
    Row,
    duplicate_or_conflict,
    pack,
)
from chatsnapshot.ledger.results import AppendResult, AppendStatus

__all__ = ["Backlog", "Heads", "Writer"]

log = logging.getLogger("chatsnapshot.ledger")

Heads = dict[str, tuple[int, bytes]]  # correlation_id -> (last seq, last hash)


class Backlog(NamedTuple):
    """What waits to be sealed: the live buffer's bytes and first-append time, frozen buffers."""

    live_bytes: int
    live_since: float | None
    frozen: int


class Writer:
    """Owns the WAL, the unsealed buffers and the per-correlation heads."""

    def __init__(self, layout: Layout, catalog: Catalog, heads: Heads, position: int, *,
                 max_unsealed_bytes: int = 64 << 20, backpressure_timeout: float = 30.0,
                 erasable: bool = True) -> None:
        self._layout = layout
        self._erasable = erasable  # format-2 records (salted payload digests), else format 1
        self._max_unsealed = max_unsealed_bytes
        self._backpressure_timeout = backpressure_timeout
        self._room = threading.Condition()  # notified when sealing frees room
        self._on_grow: list[Callable[[int], None]] = []  # called with the live bytes after each append
        self._last_append = 0.0  # monotonic time of the last append that stored something
        # _lock (the commit lock) guards everything declared below it: the heads, the position, the
        # current WAL, the live and frozen buffers, and which segments the catalog lists. Whoever
        # needs them asks through a method of this class.
        self._lock = threading.Lock()
        self._catalog = catalog
        self._heads = heads
        self._position = position  # last position assigned
        self._recorded_at = 0
        self._closed = False
        self._wal = WalFile.create(layout.wal_file(position + 1), position + 1)
        self._live = Buffer([self._wal.path])
        self._frozen: list[Buffer] = []
        # _sync guards the group commit's state: who syncs, what is durable, a fault, retired WALs.
        self._sync = threading.Condition()
        self._durable = position  # last position known to be on disk
        self._mark = DurableMark.create(layout.durable_mark, position)  # _durable, for other processes
        self._durable_size = 0  # bytes of the current WAL known to be on disk
        self._syncing = False
        self._fault: BaseException | None = None
        self._retired: list[WalFile] = []

    # -- what the sealer, the compactor and readers ask -------------------------------

    def snapshot(self) -> Snapshot:
        """What a read sees now: the listed segments, the unsealed buffers, the durable position."""
        with self._lock:
            return Snapshot(tuple(self._catalog.segments), (*self._frozen, self._live), self._durable)

    def backlog(self) -> Backlog:
        """How much waits to be sealed (read without the lock: a hint for the sealer's timing)."""
        live = self._live
        return Backlog(live.nbytes, live.first_added, len(self._frozen))

    def frozen_buffers(self) -> tuple[Buffer, ...]:
        with self._lock:
            return tuple(self._frozen)

    def adopt(self, buffer: Buffer) -> None:
        """Take a buffer of durable records recovered from the WAL, to be sealed like a frozen one."""
        with self._lock:
            self._frozen.append(buffer)

    def sealed(self, buffer: Buffer, segment: Segment) -> None:
        """``buffer`` is now ``segment`` (durable, in the manifest): list it, forget the buffer."""
        with self._lock:
            self._catalog.add(segment)
            self._frozen.remove(buffer)
        with self._room:
            self._room.notify_all()

    def replace_segments(self, old_ids: set[int], new: list[Segment]) -> list[Segment]:
        """``old_ids`` are now ``new`` (already in the manifest: compaction, erasure); returns the old."""
        with self._lock:
            return self._catalog.replace(old_ids, new)

    def add_growth_listener(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(live bytes)`` after every append that stored something."""
        self._on_grow.append(callback)

    def healthy(self) -> bool:
        """No store fault now. A faulted WAL is repaired here as the next append would repair it
        (rolled back to what is durable), so health comes back by itself once the disk takes writes."""
        if self._fault is None:
            return True
        with self._lock:
            try:
                self._ready()
            except (StoreUnavailableError, LedgerClosedError):
                return False
        return self._fault is None

    @property
    def last_append(self) -> float:
        """Monotonic time of the last append that stored something (0: none yet)."""
        return self._last_append

    @property
    def wal(self) -> WalFile:
        """The WAL file appends go to now."""
        return self._wal

    # -- appending -------------------------------------------------------------

    def append(self, envelopes: Iterable[Envelope]) -> list[AppendResult]:
        batch = list(envelopes)
        for e in batch:
            if not isinstance(e, Envelope):
                raise TypeError(f"append takes Envelope objects, got {type(e).__name__}")
        if self.unsealed_bytes > self._max_unsealed:
            self._await_room()
        with self._lock:
            self._ready()
            results, frames = self._sequence(batch)
            if frames:
                try:
                    self._wal.append(b"".join(frames))
                except OSError as e:
                    self._fail(e)
                    raise StoreUnavailableError(f"could not write the WAL ({e}); nothing was acknowledged") from e
            last = self._position
        if frames:
            self._last_append = time.monotonic()
            self._wait_durable(last)
            for callback in self._on_grow:
                callback(self._live.nbytes)
        return results

    def _ready(self) -> None:
        if self._closed:
            raise LedgerClosedError("the ledger is closed; open it again")
        if self._fault is not None:
            try:
                self._rollback()
            except OSError as e:
                raise StoreUnavailableError(f"the WAL cannot be repaired yet ({e}); nothing was acknowledged") from e

    def _sequence(self, batch: list[Envelope]) -> tuple[list[AppendResult], list[bytes]]:
        ids = [uuid_bytes(e.event_id) for e in batch]
        known = self._known(ids)
        now = self._recorded_at = max(time.time_ns(), self._recorded_at)
        heads, live = self._heads, self._live
        live_ids, live_records, live_corr = live.by_id, live.records, live.by_corr
        results: list[AppendResult] = []
        parts: list[bytes] = []  # WAL frames: length, preimage, salt, payload, hash, ... joined once
        position, added = self._position, 0
        sha256, pack_len, fromhex = hashlib.sha256, _LEN.pack, bytes.fromhex
        was_empty = not live_records
        erasable = self._erasable
        salts = os.urandom(SALT_BYTES * len(batch)) if erasable else b""  # one draw for the batch
        for k, (env, eid) in enumerate(zip(batch, ids, strict=True)):
            stored = known.get(eid) or live_ids.get(eid)
            if stored is not None:
                results.append(duplicate_or_conflict(env, stored))
                continue
            corr, s, caus, trace, span, parent = (
                env.correlation_id, env.source, env.causation_id, env.trace_id, env.span_id, env.parent_span_id)
            seq, prev = heads.get(corr, (0, GENESIS))
            seq += 1
            position += 1
            fields = (
                eid, env.event_type, env.schema_version, env.occurred_at, now, s.origin, s.runtime, s.service,
                s.agent, corr, uuid_bytes(caus) if caus else None, fromhex(trace) if trace else None,
                fromhex(span) if span else None, fromhex(parent) if parent else None,
                seq, position, env.payload_json, prev,
            )
            payload = env.payload_json.encode()
            salt: bytes | None = None
            if erasable:  # the frame: length, preimage, salt, payload, hash (records.wal_body)
                salt = salted = salts[k * SALT_BYTES:(k + 1) * SALT_BYTES]
                head = pack(fields, MAGIC, sha256(salted + payload).digest())
                digest = sha256(head).digest()
                size = len(head) + SALT_BYTES + len(payload)
                parts += (pack_len(size), head, salted, payload, digest)
            else:  # format 1: the preimage holds the payload; length, preimage, hash
                head = pack(fields, MAGIC_1, payload)
                digest = sha256(head).digest()
                size = len(head)
                parts += (pack_len(size), head, digest)
            added += size
            record = (*fields, digest, salt, None)
            live_records.append(record)
            live_ids[eid] = record
            chain = live_corr.get(corr)
            if chain is None:
                live_corr[corr] = [record]
            else:
                chain.append(record)
            heads[corr] = (seq, digest)
            results.append(AppendResult(env.event_id, AppendStatus.STORED, seq, position))
        live.nbytes += added
        if was_empty and live_records:
            live.first_added = time.monotonic()
        self._position = position
        return results, parts

    def _known(self, ids: list[bytes]) -> dict[bytes, Row]:
        """Stored records for those ids that are already in a frozen buffer or a
        sealed segment (the live buffer is checked as the batch goes)."""
        found: dict[bytes, Row] = {}
        rest = [eid for eid in ids if eid not in self._live.by_id]
        for buf in self._frozen:
            hits = [eid for eid in rest if eid in buf.by_id]
            found.update((eid, buf.by_id[eid]) for eid in hits)
            rest = [eid for eid in rest if eid not in buf.by_id] if hits else rest
        found.update(self._catalog.find_ids(rest))
        return found

    @property
    def unsealed_bytes(self) -> int:
        return self._live.nbytes + sum(b.nbytes for b in self._frozen)

    def _await_room(self) -> None:
        """Backpressure: wait while the sealer is behind, then give up retryably."""
        deadline = time.monotonic() + self._backpressure_timeout
        with self._room:
            while self.unsealed_bytes > self._max_unsealed:
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    raise StoreUnavailableError(
                        f"{self.unsealed_bytes >> 20} MiB are waiting to be sealed (limit {self._max_unsealed >> 20} "
                        "MiB): the disk is too slow or full; nothing in this call was acknowledged, retry later"
                    )
                self._room.wait(min(left, 1.0))

    # -- group commit ------------------------------------------------------------

    def _wait_durable(self, target: int) -> None:
        with self._sync:
            while True:
                if self._durable >= target:
                    return
                if self._fault is not None:
                    raise StoreUnavailableError(f"the WAL could not be synced ({self._fault}); nothing acknowledged")
                if not self._syncing:
                    self._syncing = True
                    break
                self._sync.wait()
        with self._lock:  # the leader syncs everything written so far
            wal, upto, size = self._wal, self._position, self._wal.size
        error: OSError | None = None
        try:
            wal.sync()
        except OSError as e:
            error = e
        with self._sync:
            self._syncing = False
            if error is not None:
                self._fault = self._fault or error
            elif wal is self._wal:
                self._advance(upto)
                self._durable_size = max(self._durable_size, size)
            self._close_retired()
            self._sync.notify_all()
        if error is not None:
            raise StoreUnavailableError(f"could not sync the WAL ({error}); nothing was acknowledged") from error
        self._wait_durable(target)  # returns at once unless a rotation raced the sync

    def _advance(self, durable: int) -> None:
        """``durable`` positions are on disk (caller holds _sync): say so here and to other processes."""
        if durable > self._durable:
            self._durable = durable
            self._mark.advance(durable)

    def _fail(self, error: BaseException) -> None:
        with self._sync:
            self._fault = self._fault or error
            self._sync.notify_all()

    def _rollback(self) -> None:
        """After a fault: forget what is not durable, truncate the WAL there."""
        with self._sync:
            while self._syncing:
                self._sync.wait()
            durable = self._durable
        log.warning("store fault (%s): rolling back to position %d", self._fault, durable)
        os.ftruncate(self._wal.fd, self._durable_size)  # OSError: still faulted, the caller sees it
        self._wal.size = self._durable_size
        # Newest first: each dropped record names the head it was chained to.
        for r in self._live.drop_after(durable):
            if r[SEQ] == 1:
                self._heads.pop(r[CORRELATION_ID], None)
            else:
                self._heads[r[CORRELATION_ID]] = (r[SEQ] - 1, r[PREV_HASH])
        self._position = durable
        with self._sync:
            self._fault = None

    # -- rotation and retirement -------------------------------------------------

    def rotate(self) -> Buffer | None:
        """Freeze the live buffer and start a new WAL file. Called by the sealer.

        Every record of the frozen buffer is durable when this returns."""
        with self._lock:
            if self._closed and not self._live.records:
                return None
            self._ready()
            if not self._live.records:
                return None
            old = self._wal
            try:
                old.sync()
                new = WalFile.create(self._layout.wal_file(self._position + 1), self._position + 1)
            except OSError as e:
                self._fail(e)
                raise StoreUnavailableError(f"could not rotate the WAL ({e})") from e
            frozen, self._live = self._live, Buffer([new.path])
            self._frozen.append(frozen)
            self._wal, self._durable_size = new, 0
            with self._sync:
                self._advance(self._position)
                self._retired.append(old)
                self._close_retired()
                self._sync.notify_all()
            return frozen

    def _close_retired(self) -> None:
        """Close retired WAL files once no leader can be syncing them (caller holds _sync)."""
        if not self._syncing:
            for wal in self._retired:
                wal.close()
            self._retired.clear()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            with self._sync:
                while self._syncing:
                    self._sync.wait()
                self._retired.append(self._wal)
                self._close_retired()
                self._mark.close()
