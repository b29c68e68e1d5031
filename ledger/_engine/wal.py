"""The write-ahead log: where an append becomes durable.

A WAL file holds committed records in position order, each framed as::

    ┌───────────┬────────────────────────────────────────────┬────────────────────┐
    │ u32 BE: n │ body: n bytes (records.wal_body):          │ SHA-256(preimage)  │
    │           │ preimage ("CSE2"), salt (16), payload_json │ = the record hash  │
    └───────────┴────────────────────────────────────────────┴────────────────────┘

(a format-1 record, recovered from an older ledger's WAL, is its "CSE1"
preimage alone). The trailing digest is the envelope's chain hash, so it doubles
as the record checksum: a record is valid exactly when its preimage hashes to
the digest and its salt and payload to the payload digest inside the preimage
(``records.intact``).

``scan`` reads a file back. Bytes that are not a valid record are one of two things:

* a *torn tail*: an incomplete frame at the end of the file (its length prefix
  claims more bytes than there are, or there are too few for a frame). The
  writer died during a write that was never fsync'd, hence never acknowledged.
* *damage*: complete frames whose digest no longer matches, at the end of the
  file or followed by valid records. Bytes that were once durable changed, so
  acknowledged records are lost. ``scan`` still reads what each damaged frame
  says (``LostFrame``: its correlation, seq and position when the body decodes,
  and its trailing digest, the record's hash as written) so that recovery can
  record the loss and never hand out that seq or position again; it
  resynchronises on the next valid record (found by its magic and digest).
"""

from __future__ import annotations

import contextlib
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

from chatsnapshot.ledger.fsutil import fsync_dir
from chatsnapshot.ledger.records import MAGIC, MAGIC_1, Record, decode, intact

__all__ = ["LENGTH", "Damage", "DurableMark", "LostFrame", "WalFile", "WalScan", "frame", "scan"]

LENGTH = struct.Struct(">I")  # the frame's length prefix
_LEN = LENGTH
_DIGEST = 32
_MIN_BODY = 151  # the fixed head of the canonical encoding (a format-2 body is longer)
_MAX_BODY = 64 << 20
_MAGICS = (MAGIC, MAGIC_1)


def frame(body: bytes, digest: bytes) -> bytes:
    """One WAL record: length, body, digest."""
    return b"".join((_LEN.pack(len(body)), body, digest))


class WalFile:
    """An open WAL file that records are appended to.

    ``append`` writes but does not sync; ``sync`` makes everything appended so
    far durable (fdatasync). Not thread-safe on its own: the writer serialises
    ``append`` under its commit lock, and one group-commit leader at a time calls
    ``sync``.
    """

    def __init__(self, path: Path, fd: int, size: int, first_position: int) -> None:
        self.path = path
        self.fd = fd
        self.size = size
        self.first_position = first_position

    @classmethod
    def create(cls, path: Path, first_position: int) -> WalFile:
        """Create a new, empty WAL file and make its directory entry durable."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        fsync_dir(path.parent)
        return cls(path, fd, 0, first_position)

    def append(self, data: bytes) -> None:
        """Write ``data`` at the end of the file (not yet durable)."""
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]
        self.size += len(data)

    def sync(self) -> None:
        """Make every appended byte durable."""
        os.fdatasync(self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class DurableMark:
    """``wal/durable``: the last position a running writer has fsync'd, for readers in other
    processes, so that they read from its WAL only what it acknowledged (a frame written and not
    yet synced, or rolled back after a failed sync, stays unseen).

    Eight bytes, big-endian, rewritten in place after each sync (no fsync of its own: after a
    crash the WAL's intact records are what is durable, and recovery reads those)."""

    _MARK = struct.Struct(">Q")

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self._fd = path, fd

    @classmethod
    def create(cls, path: Path, position: int) -> DurableMark:
        mark = cls(path, os.open(path, os.O_RDWR | os.O_CREAT, 0o644))
        mark.advance(position)
        return mark

    def advance(self, position: int) -> None:
        """Never raises: a mark left behind only makes readers wait for the seal."""
        with contextlib.suppress(OSError):
            os.pwrite(self._fd, self._MARK.pack(position), 0)

    @classmethod
    def read(cls, path: Path) -> int | None:
        """The mark (None: no writer keeps one: every intact record counts)."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        return cls._MARK.unpack(data)[0] if len(data) == cls._MARK.size else None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


@dataclass(frozen=True)
class LostFrame:
    """A complete frame inside a damaged range: what it still says (``record`` when
    its body decodes, checksum aside) and its trailing digest."""

    offset: int
    record: Record | None
    digest: bytes


@dataclass(frozen=True)
class Damage:
    """A byte range of a WAL file that holds no valid record."""

    offset: int
    length: int
    torn_tail: bool  # an incomplete frame at the end of the file: never acknowledged, nothing lost
    frames: tuple[LostFrame, ...] = ()  # the complete (damaged) frames in the range
    recovered: bool = False  # only the length prefix was damaged: the record was read back whole


@dataclass
class WalScan:
    """What ``scan`` found in one WAL file."""

    path: Path
    records: list[Record] = field(default_factory=list)
    damage: list[Damage] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)  # where each record's frame starts
    valid_end: int = 0  # offset just past the last valid record


def _record_at(data: bytes, at: int) -> tuple[Record, int] | None:
    """The valid record starting at ``at`` and the offset after it, or None."""
    if at + _LEN.size > len(data):
        return None
    (n,) = _LEN.unpack_from(data, at)
    end = at + _LEN.size + n + _DIGEST
    if not _MIN_BODY <= n <= _MAX_BODY or end > len(data):
        return None
    body = data[at + _LEN.size:at + _LEN.size + n]
    digest = data[end - _DIGEST:end]
    if not intact(body, digest):
        return None
    try:
        return decode(body, digest), end
    except (ValueError, UnicodeDecodeError, struct.error):
        return None


def scan(path: Path) -> WalScan:
    """Read every valid record of a WAL file, reporting torn tails and damage."""
    data = path.read_bytes()
    result = WalScan(path)
    at = 0
    while at < len(data):
        found = _record_at(data, at)
        if found is not None:
            result.offsets.append(at)
            record, at = found
            result.records.append(record)
            result.valid_end = at
            continue
        resume = _resync(data, at)
        end = len(data) if resume is None else resume
        whole = _whole_frame(data, at, end)
        if whole is not None and whole.record is not None and intact(
                data[at + _LEN.size:end - _DIGEST], whole.digest):
            # Only the length prefix is wrong: the body and its digest hold; the record is intact.
            result.offsets.append(at)
            result.records.append(whole.record)
            result.valid_end = end
            result.damage.append(Damage(at, end - at, torn_tail=False, recovered=True))
        else:
            frames = _frames(data, at, end)
            if not frames and resume is not None and whole is not None:
                frames = (whole,)  # a damaged length prefix mid-file: the range is one damaged frame
            result.damage.append(Damage(at, end - at, torn_tail=resume is None and not frames, frames=frames))
        if resume is None:
            break
        at = resume
    return result


def _whole_frame(data: bytes, at: int, end: int) -> LostFrame | None:
    """The range ``[at, end)`` read as one frame whatever its length prefix says (None: too short)."""
    if end - at < _LEN.size + _MIN_BODY + _DIGEST:
        return None
    body, digest = data[at + _LEN.size:end - _DIGEST], data[end - _DIGEST:end]
    try:
        record: Record | None = decode(body, digest) if body[:4] in _MAGICS else None
    except (ValueError, UnicodeDecodeError, struct.error):
        record = None
    return LostFrame(at, record, digest)


def _frames(data: bytes, at: int, end: int) -> tuple[LostFrame, ...]:
    """The complete frames from ``at`` up to ``end``, read as frames whatever their digest."""
    frames = []
    while at + _LEN.size <= end:
        (n,) = _LEN.unpack_from(data, at)
        stop = at + _LEN.size + n + _DIGEST
        if not _MIN_BODY <= n <= _MAX_BODY or stop > end:
            break
        body, digest = data[at + _LEN.size:stop - _DIGEST], data[stop - _DIGEST:stop]
        try:
            record: Record | None = decode(body, digest) if body[:4] in _MAGICS else None
        except (ValueError, UnicodeDecodeError, struct.error):
            record = None
        frames.append(LostFrame(at, record, digest))
        at = stop
    return tuple(frames)


def _resync(data: bytes, bad: int) -> int | None:
    """The offset of the next valid record after ``bad``, or None."""
    probe = bad + 1
    while True:
        hits = [h for h in (data.find(m, probe + _LEN.size) for m in _MAGICS) if h >= 0]
        if not hits:
            return None
        hit = min(hits)
        start = hit - _LEN.size
        if _record_at(data, start) is not None:
            return start
        probe = start + 1
