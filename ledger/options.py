"""Tunables of a ledger, with defaults and ``validate()``."""

from __future__ import annotations

from dataclasses import dataclass, field

from chatsnapshot.ledger.checkpoint import SigningKey

__all__ = ["LedgerOptions"]


@dataclass(frozen=True)
class LedgerOptions:
    """How a writer seals and compacts, and how much a reader keeps open.

    seal_interval       seconds a non-empty WAL may wait before it is sealed into a
                        segment (readers see the WAL's records before that, too)
    seal_max_bytes      seal as soon as the unsealed records reach about this size
    max_unsealed_bytes  backpressure: appends wait while more than this is unsealed (the
                        sealer is behind: a slow or full disk), and after
                        backpressure_timeout seconds fail with StoreUnavailableError
    row_group_rows      about this many rows per Parquet row group, cut at correlation
                        boundaries: smaller is faster point replay, larger a smaller footer
    compression_level   zstd level of segments written by sealing (on the ingest path: fast)
    compaction_level    zstd level of segments written by compaction (in the background:
                        tighter; this is what most of the data ends up stored at)
    compact_target_rows compaction merges adjacent smaller segments up to about
                        this many rows (it streams the rows; only the sort keys, ~40
                        bytes a row, are held for the whole merge)
    compact_fanin       ... and at most this many at once: a merge holds one decoded row
                        group (~1 MiB) of each input. Merged segments below half the
                        target merge again later: fewer inputs per merge cost more rewriting
    auto_compact        compact in the background when ``compact_trigger`` small
                        segments have accumulated and appends have paused for
                        ``compact_idle`` seconds (compaction yields to ingest), or at
                        once when more than ``compact_backlog`` segments are waiting
    compact_trigger     see auto_compact
    compact_idle        see auto_compact
    compact_backlog     see auto_compact: bounds how many segments a replay may touch
    open_row_groups     readers and writers keep the parsed footers of recently read
                        segments, up to about this many row groups in all (~16 KiB of
                        memory each; parsing a 1M-row segment's footer costs ~14 ms).
                        The default holds ~16M envelopes' worth: warm point replay
                        across that many envelopes never re-parses a footer
    signing_key         sign the checkpoint written after every seal with this key
                        (``ledger.checkpoint.SigningKey``; keep its file outside the
                        ledger directory); None: checkpoints are written unsigned
    checkpoints_kept    how many of the newest checkpoints stay in ``checkpoints/``
    erasable            True (the default): each hash commits to a salted digest of the
                        payload, so payloads can be erased later (``Ledger.erase``) with
                        every chain intact. False: hashes cover the payload bytes
                        (format-1 records): 16 bytes and one SHA-256 call less per
                        envelope, but no payload of this writer's can ever be erased
    """

    seal_interval: float = 5.0
    seal_max_bytes: int = 16 << 20
    max_unsealed_bytes: int = 64 << 20
    backpressure_timeout: float = 30.0
    row_group_rows: int = 1024
    compression_level: int = 3
    compaction_level: int = 6
    compact_target_rows: int = 1_048_576
    compact_fanin: int = 64
    auto_compact: bool = True
    compact_trigger: int = 8
    compact_idle: float = 1.0
    compact_backlog: int = 64
    open_row_groups: int = 16384
    signing_key: SigningKey | None = field(default=None, repr=False)
    checkpoints_kept: int = 64
    erasable: bool = True

    def validate(self) -> LedgerOptions:
        """Return self, or raise ValueError naming the setting to change."""
        if self.checkpoints_kept < 1:
            raise ValueError(f"checkpoints_kept must be at least 1, got {self.checkpoints_kept}")
        if not 0 < self.seal_interval <= 3600:
            raise ValueError(f"seal_interval must be in (0, 3600] seconds, got {self.seal_interval}")
        if not 1 << 10 <= self.seal_max_bytes <= 1 << 30:
            raise ValueError(f"seal_max_bytes must be in [1 KiB, 1 GiB], got {self.seal_max_bytes}")
        if self.max_unsealed_bytes < 2 * self.seal_max_bytes:
            raise ValueError("max_unsealed_bytes must be at least twice seal_max_bytes")
        if not 0 < self.backpressure_timeout <= 600:
            raise ValueError(f"backpressure_timeout must be in (0, 600] seconds, got {self.backpressure_timeout}")
        if not 16 <= self.row_group_rows <= 1 << 20:
            raise ValueError(f"row_group_rows must be in [16, 1048576], got {self.row_group_rows}")
        for name in ("compression_level", "compaction_level"):
            if not 1 <= getattr(self, name) <= 19:
                raise ValueError(f"{name} must be a zstd level in [1, 19], got {getattr(self, name)}")
        if self.compact_target_rows < self.row_group_rows:
            raise ValueError("compact_target_rows must be at least row_group_rows")
        if self.compact_fanin < 2:
            raise ValueError(f"compact_fanin must be at least 2, got {self.compact_fanin}")
        if self.compact_trigger < 2:
            raise ValueError(f"compact_trigger must be at least 2, got {self.compact_trigger}")
        if self.compact_backlog < self.compact_trigger:
            raise ValueError("compact_backlog must be at least compact_trigger")
        if not 0 <= self.compact_idle <= 3600:
            raise ValueError(f"compact_idle must be in [0, 3600] seconds, got {self.compact_idle}")
        if self.open_row_groups < 1:
            raise ValueError(f"open_row_groups must be at least 1, got {self.open_row_groups}")
        return self
