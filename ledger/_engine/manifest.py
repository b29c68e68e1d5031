"""The MANIFEST: which sealed segments make up the ledger.

A JSON document replaced atomically (``fsutil.write_atomic``). Readers take it as
the truth about what is sealed: a segment file is part of the ledger exactly
when the manifest lists it. ``sealed_through`` is the highest position whose
envelope is in a listed segment; WAL records at or below it are already sealed.

A segment whose file failed its checks on open stays listed with status
``quarantined`` and the reason, so that replay and ``verify`` know which
correlations and seqs are missing rather than silently skipping them.
``lost`` lists committed records that WAL damage destroyed, for good.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from chatsnapshot.errors import LedgerFormatError
from chatsnapshot.ledger.fsutil import write_atomic

__all__ = [
    "FORMAT", "VERSION", "LostRecord", "Manifest", "ManifestKeeper", "SegmentEntry", "load_manifest", "save_manifest",
]

FORMAT = "chatsnapshot-ledger"
VERSION = 2  # 2: records commit to salted payload digests (ledger.records); 1 is read and migrated
_READABLE = (1, 2)


@dataclass(frozen=True)
class SegmentEntry:
    """One sealed segment and its index, as the manifest records them."""

    id: int
    file: str  # relative to the ledger directory
    index_file: str
    rows: int
    bytes: int
    sha256: str
    index_bytes: int
    index_sha256: str
    first_position: int
    last_position: int
    level: int = 0  # zstd level the segment was written at (0: not recorded)
    status: str = "sealed"  # or "quarantined"
    reason: str | None = None

    @property
    def healthy(self) -> bool:
        return self.status == "sealed"

    def quarantined(self, reason: str) -> SegmentEntry:
        return replace(self, status="quarantined", reason=reason)


@dataclass(frozen=True)
class LostRecord:
    """A committed record the ledger lost to damage (a WAL frame that no longer
    checks out). Kept for good: ``verify`` reports it every time, and the writer
    never hands out its position or its seq again. ``correlation_id``, ``seq``
    and ``hash`` (hex) are what the damaged frame still said, when it could be read."""

    position: int | None
    correlation_id: str | None
    seq: int | None
    hash: str | None
    reason: str

    def describe(self) -> str:
        where = f"position {self.position}" if self.position is not None else "an unknown position"
        what = f"{self.correlation_id} seq {self.seq}" if self.correlation_id is not None else "an unknown run"
        return f"{what} at {where}: {self.reason}"


@dataclass(frozen=True)
class Manifest:
    """``retired`` lists files that compaction replaced: their rows are in listed
    segments, and they are deleted after a grace period (readers may still be
    reading them), or at the next open if the writer stopped first."""

    generation: int = 0
    next_segment_id: int = 1
    sealed_through: int = 0
    segments: tuple[SegmentEntry, ...] = field(default_factory=tuple)
    retired: tuple[str, ...] = ()
    lost: tuple[LostRecord, ...] = ()  # committed records lost to damage: permanent gaps
    ledger_id: str = ""  # this ledger's identity: the origin line of its checkpoints
    tree: dict[str, Any] | None = None  # ledger.merkle.Frontier of every sealed envelope, in position order
    version: int = VERSION  # the format it was read in; it is always saved as VERSION

    def with_segments(self, segments: list[SegmentEntry], **changes: Any) -> Manifest:
        """A new generation of the manifest with ``segments`` (kept in position order)."""
        ordered = tuple(sorted(segments, key=lambda s: s.first_position))
        return replace(self, generation=self.generation + 1, segments=ordered, **changes)

    def to_json(self) -> bytes:
        """One key per line, one segment per line: readable, and written by ``json``'s C
        encoder (``indent=`` takes its pure-Python one, and ``asdict`` copies deeply: 7 ms a
        save at 200 segments, on the sealer's path, against 1.4 ms)."""
        doc: dict[str, Any] = {"format": FORMAT, **{f: getattr(self, f) for f in _MANIFEST_FIELDS}, "version": VERSION}
        doc["segments"] = [{f: getattr(s, f) for f in _SEGMENT_FIELDS} for s in self.segments]
        doc["lost"] = [{f: getattr(x, f) for f in _LOST_FIELDS} for x in self.lost]
        lines = []
        for key, value in doc.items():
            if key == "segments" and value:
                rows = ",\n  ".join(json.dumps(s) for s in value)
                lines.append(f'"segments": [\n  {rows}\n ]')
            else:
                lines.append(f"{json.dumps(key)}: {json.dumps(value)}")
        return ("{\n " + ",\n ".join(lines) + "\n}").encode()


_MANIFEST_FIELDS = tuple(f.name for f in fields(Manifest))
_SEGMENT_FIELDS = tuple(f.name for f in fields(SegmentEntry))
_LOST_FIELDS = tuple(f.name for f in fields(LostRecord))


def load_manifest(path: Path) -> Manifest | None:
    """The manifest at ``path``, or None when there is none yet."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        doc = json.loads(raw)
        if doc.get("format") != FORMAT:
            raise LedgerFormatError(f"{path} is not a ChatSnapshot manifest (format {doc.get('format')!r})")
        if doc.get("version") not in _READABLE:
            raise LedgerFormatError(
                f"{path} has manifest version {doc.get('version')!r}; this ChatSnapshot reads versions "
                f"{', '.join(map(str, _READABLE))}: upgrade chatsnapshot"
            )
        segments = tuple(SegmentEntry(**s) for s in doc["segments"])
        return Manifest(doc["generation"], doc["next_segment_id"], doc["sealed_through"], segments,
                        tuple(doc.get("retired", ())), tuple(LostRecord(**x) for x in doc.get("lost", ())),
                        doc.get("ledger_id", ""), doc.get("tree"), doc["version"])
    except LedgerFormatError:
        raise
    except (ValueError, KeyError, TypeError) as e:
        raise LedgerFormatError(
            f"{path} is unreadable ({e}); nothing was changed: restore it from a backup, or rebuild it from "
            "the segments with `chatsnapshot repair`"
        ) from e


def save_manifest(path: Path, manifest: Manifest) -> None:
    write_atomic(path, manifest.to_json())


class ManifestKeeper:
    """The writer's current manifest; every change is saved before it is seen."""

    def __init__(self, path: Path, manifest: Manifest) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._next_id = manifest.next_segment_id
        self.current = manifest

    def allocate_id(self) -> int:
        """A segment id not used by any file this writer has made."""
        with self._lock:
            self._next_id += 1
            return self._next_id - 1

    def update(self, change: Callable[[Manifest], Manifest]) -> Manifest:
        """Apply ``change`` to the current manifest and save the result durably."""
        with self._lock:
            new = change(self.current)
            new = replace(new, next_segment_id=max(new.next_segment_id, self._next_id))
            save_manifest(self._path, new)
            self.current = new
            return new
