"""The ledger options ``chatsnapshot serve`` runs with: at a sidecar's sizes, compaction merges
16 seals at a time and leaves what it merged alone (each row rewritten once)."""

from __future__ import annotations

from chatsnapshot.ledger._engine.compaction import plan
from chatsnapshot.ledger._engine.manifest import SegmentEntry
from chatsnapshot.receiver.server import SIDECAR_OPTIONS as O


def _entry(id_: int, rows: int, level: int) -> SegmentEntry:
    return SegmentEntry(id_, f"s{id_}", f"i{id_}", rows, 1, "", 1, "", id_ * 10, id_ * 10 + 9, level)


def _plan(entries: list[SegmentEntry]) -> list[list[SegmentEntry]]:
    return plan(entries, target_rows=O.compact_target_rows, level=O.compaction_level, fanin=O.compact_fanin)


def test_at_the_sidecars_sizes_compaction_rewrites_each_row_once():
    rows = O.seal_max_bytes // 1024  # a seal's rows, for records of ~1 KB (the OTLP benchmark's are ~900 B)
    sealed = [_entry(i, rows, O.compression_level) for i in range(1, 65)]
    groups = _plan(sealed)
    assert [len(g) for g in groups] == [O.compact_fanin] * (64 // O.compact_fanin)
    merged = [_entry(100 + k, sum(e.rows for e in g), O.compaction_level) for k, g in enumerate(groups)]
    assert _plan(merged) == []
