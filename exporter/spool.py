"""The durable spool: OTLP requests on disk until the receiver has acknowledged them.

::

    SPOOL_DIR/
    ├── SENDER                              flock'd by the one process that sends from this spool
    ├── <time ns>-<pid>-<n>.<signal>        one OTLP request (protobuf bytes), complete and fsync'd
    ├── <...>.tmp                           being written; a leftover one is deleted at start
    └── rejected/<...>.<signal>             requests the receiver refused for good (kept for a human)

    export ──► write .tmp ──fsync──► rename ──fsync dir──► return SUCCESS
    sender ──► oldest request ──► receiver ──ack──► delete      (retry: RetryInfo / Retry-After / backoff)

Guarantees: a request is on disk before ``export`` returns, so it survives the
producer's crash (SIGKILL included); it is deleted only after the receiver
acknowledged it, so it is delivered at least once, in the order written, and
the receiver's idempotency (facts keep their ``event_id``) makes that exactly
once in the ledger. Any number of producer processes may write to one spool;
one at a time sends (``SENDER`` lock), and a newly started producer sends what
a dead one left.

The spool is bounded (``max_bytes``). When full, ``policy="block"`` makes
``export`` wait up to ``block_timeout`` seconds for the sender to make room and
then fail (the SDK drops that batch); ``policy="drop_oldest"`` deletes the
oldest requests to make room. Either way the loss is counted and logged once.
"""

from __future__ import annotations

import fcntl
import itertools
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from chatsnapshot.ledger.fsutil import fsync_dir, write_all
from chatsnapshot.receiver.otlp import Signal

__all__ = ["Policy", "Spool", "SpooledRequest"]

log = logging.getLogger("chatsnapshot.exporter")

Policy = Literal["block", "drop_oldest"]
_SIGNALS: dict[str, Signal] = {"traces": "traces", "logs": "logs"}  # by file suffix


@dataclass(frozen=True, slots=True)
class SpooledRequest:
    path: Path
    signal: Signal
    size: int

    def read(self) -> bytes:
        return self.path.read_bytes()


class Spool:
    def __init__(self, directory: str | Path, *, max_bytes: int = 256 << 20, policy: Policy = "block",
                 block_timeout: float = 5.0) -> None:
        if policy not in ("block", "drop_oldest"):
            raise ValueError(f"spool policy must be 'block' or 'drop_oldest', got {policy!r}")
        if max_bytes < 1 << 16:
            raise ValueError(f"spool max_bytes must be at least 64 KiB, got {max_bytes}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "rejected").mkdir(exist_ok=True)
        self.max_bytes = max_bytes
        self.policy = policy
        self.block_timeout = block_timeout
        self.dropped_requests = 0
        self._names = itertools.count()
        self._cond = threading.Condition()
        self._sender_lock: int | None = None
        me = weakref.ref(self)

        def forget_in_child() -> None:
            spool = me()
            if spool is not None:
                spool._forget_sender_in_child()

        os.register_at_fork(after_in_child=forget_in_child)
        for leftover in self.directory.glob("*.tmp"):
            if _writer_gone(leftover):
                leftover.unlink(missing_ok=True)

    # -- writing -------------------------------------------------------------------

    def put(self, signal: str, body: bytes) -> bool:
        """Store one request durably. False when the spool is full and ``block`` timed out."""
        if signal not in _SIGNALS:
            raise ValueError(f"signal must be one of {tuple(_SIGNALS)}, got {signal!r}")
        if len(body) > self.max_bytes:
            self.dropped_requests += 1
            self._lost(f"a batch of {len(body)} bytes is larger than the whole spool {self.directory} "
                       f"({self.max_bytes} bytes) and was dropped")
            return False
        if not self._make_room(len(body)):
            self._lost(f"spool {self.directory} full ({self.max_bytes} bytes) for {self.block_timeout}s; "
                       "a batch of facts was dropped")
            return False
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._names):06d}.{signal}"
        tmp = self.directory / (name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            write_all(fd, body)
            os.fsync(fd)
            os.close(fd)
            fd = -1
            os.rename(tmp, self.directory / name)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(self.directory)
        with self._cond:
            self._cond.notify_all()
        return True

    def _make_room(self, size: int) -> bool:
        deadline = time.monotonic() + self.block_timeout
        with self._cond:
            while self.size() + size > self.max_bytes:
                if self.policy == "drop_oldest":
                    pending = self.pending()
                    if not pending:
                        return True
                    pending[0].path.unlink(missing_ok=True)
                    self.dropped_requests += 1
                    self._lost(f"spool {self.directory} full ({self.max_bytes} bytes): the oldest requests are "
                               "being dropped (policy drop_oldest)")
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    self.dropped_requests += 1
                    return False
                self._cond.wait(min(left, 0.1))
        return True

    def _lost(self, message: str) -> None:
        if self.dropped_requests <= 1:
            log.error("chatsnapshot: %s (counted; further drops are not logged)", message)

    # -- reading -------------------------------------------------------------------

    def pending(self) -> list[SpooledRequest]:
        """Complete requests, oldest first."""
        out = []
        for path in self.directory.iterdir():
            signal = _SIGNALS.get(path.suffix[1:])
            if signal is not None and path.is_file():
                try:
                    out.append(SpooledRequest(path, signal, path.stat().st_size))
                except FileNotFoundError:
                    continue  # sent and deleted meanwhile
        out.sort(key=lambda r: r.path.name)
        return out

    def size(self) -> int:
        return sum(r.size for r in self.pending())

    def done(self, request: SpooledRequest) -> None:
        """The receiver acknowledged ``request``."""
        request.path.unlink(missing_ok=True)
        with self._cond:
            self._cond.notify_all()

    def reject(self, request: SpooledRequest, reason: str) -> None:
        """The receiver refused ``request`` for good: keep it aside for a human, never re-send it."""
        target = self.directory / "rejected" / request.path.name
        request.path.replace(target)
        target.with_name(target.name + ".reason").write_text(reason + "\n")
        log.error("chatsnapshot: the receiver refused spooled request %s for good: %s (moved to %s)",
                  request.path.name, reason, target.parent)
        with self._cond:
            self._cond.notify_all()

    def wait_for_change(self, timeout: float) -> None:
        with self._cond:
            self._cond.wait(timeout)

    # -- the one sender --------------------------------------------------------------

    def try_become_sender(self) -> bool:
        """Take the SENDER lock if no other live process holds it."""
        if self._sender_lock is not None:
            return True
        fd = os.open(self.directory / "SENDER", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._sender_lock = fd
        return True

    def _forget_sender_in_child(self) -> None:
        """A forked child inherits the SENDER lock's descriptor but not the sender thread."""
        if self._sender_lock is not None:
            os.close(self._sender_lock)  # the parent's descriptor (and its lock) stays
            self._sender_lock = None

    def release_sender(self) -> None:
        if self._sender_lock is not None:
            os.close(self._sender_lock)
            self._sender_lock = None


def _writer_gone(tmp: Path) -> bool:
    """A .tmp file whose writing process no longer exists."""
    try:
        pid = int(tmp.name.split("-")[1])
    except (IndexError, ValueError):
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False  # alive (possibly this very process, writing)

