"""The ledger directory: where each file lives and what it means.

::

    LEDGER_DIR/
    ├── LOCK                       flock'd by the one writer; says who holds it (pid, host, command)
    ├── MANIFEST                   JSON, replaced atomically: the sealed segments, sealed_through,
    │                              losses (lost), the ledger's id and its Merkle tree's frontier
    ├── dead-letters.jsonl         facts promotion rejected, with the reason (append + fsync)
    ├── wal/
    │   ├── <first position>.wal   write-ahead log; appends are acknowledged once fsync'd here
    │   └── durable                the last position the running writer fsync'd (for live readers)
    ├── segments/
    │   └── seg-<id>.parquet       sealed envelopes, immutable, sorted by (correlation_id, seq)
    ├── index/
    │   └── seg-<id>.parquet       per segment: correlation_id -> row range, seq range, last hash
    ├── quarantine/
    │   ├── <name>                 a damaged or leftover file, moved aside, never deleted
    │   └── <name>.report.json     what it held, why it was moved, what was lost
    ├── checkpoints/
    │   └── <tree size>.note       a checkpoint after each seal (.unsigned without a key; newest 64)
    └── projections/
        └── <name>.json            projection checkpoints: a cache (deleting one costs a rebuild)

    append ──► wal/N.wal ──fsync──► ack
                   │ every seal_interval or seal_max_bytes (background)
                   ▼
          segments/seg-K.parquet + index/seg-K.parquet  (tmp name, fsync, rename, fsync dir)
                   │
                   ▼
          MANIFEST lists seg-K, sealed_through = last position  (tmp, fsync, rename, fsync dir)
                   │
                   ▼
          wal/N.wal deleted (records <= sealed_through are skipped if it survives a crash)

Every file that is referenced is complete and fsync'd before the file that
references it is written, so a crash at any moment leaves either the old or the
new state, plus at most some unreferenced files that the next writer quarantines.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["Layout"]


class Layout:
    """Paths inside one ledger directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.lock = self.root / "LOCK"
        self.manifest = self.root / "MANIFEST"
        self.wal = self.root / "wal"
        self.segments = self.root / "segments"
        self.index = self.root / "index"
        self.quarantine = self.root / "quarantine"
        self.dead_letters = self.root / "dead-letters.jsonl"

    def create_dirs(self) -> None:
        for d in (self.root, self.wal, self.segments, self.index, self.quarantine):
            d.mkdir(parents=True, exist_ok=True)

    def segment_file(self, segment_id: int) -> Path:
        return self.segments / f"seg-{segment_id:012d}.parquet"

    def index_file(self, segment_id: int) -> Path:
        return self.index / f"seg-{segment_id:012d}.parquet"

    def wal_file(self, first_position: int) -> Path:
        return self.wal / f"{first_position:020d}.wal"

    @property
    def durable_mark(self) -> Path:
        return self.wal / "durable"

    def wal_files(self) -> list[Path]:
        """Existing WAL files, oldest first."""
        return sorted(self.wal.glob("*.wal"))

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()
