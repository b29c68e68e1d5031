"""verify: recompute every hash chain and check every file.

For each correlation, in seq order: seq must be the previous seq + 1 (from 1),
``prev_hash`` the previous envelope's ``hash`` (zeros for seq 1), and ``hash``
the SHA-256 of the envelope's canonical encoding (records.py). The first place
a chain fails is reported as ``(correlation_id, seq)``; the rest of that chain
is not checked further. Each segment file is also checked against the SHA-256
the manifest recorded when it was sealed.

A row group that cannot be decoded (a flipped byte makes its page checksum
fail) is read again without page checksums, so that when the damage only
changed values the chain names the exact envelope; when it cannot be decoded
at all, each correlation in that row group is reported at its first seq there.
Rows of a quarantined segment are reported as missing, by the seqs its index
recorded.
"""

from __future__ import annotations

import pyarrow.parquet as pq

from chatsnapshot.ledger._engine.catalog import Segment
from chatsnapshot.ledger._engine.layout import Layout
from chatsnapshot.ledger._engine.recovery import index_ok
from chatsnapshot.ledger._engine.segment import SegmentFile, file_sha256, table_to_records
from chatsnapshot.ledger._engine.snapshot import Snapshot
from chatsnapshot.ledger.records import GENESIS, Record, digest
from chatsnapshot.ledger.results import ChainBreak, Problem, VerifyReport

__all__ = ["verify"]


class _Chains:
    """Running state of every chain seen so far."""

    def __init__(self, report: VerifyReport, only: str | None) -> None:
        self.report = report
        self.only = only
        self.heads: dict[str, tuple[int, bytes]] = {}
        self.broken: set[str] = set()

    def check(self, r: Record) -> None:
        corr = r.correlation_id
        if corr in self.broken or (self.only is not None and corr != self.only):
            return
        self.report.envelopes += 1
        seq, prev = self.heads.get(corr, (0, GENESIS))
        if r.seq != seq + 1:
            self.fail(corr, seq + 1, f"missing: the next stored envelope is seq {r.seq}")
        elif r.prev_hash != prev:
            self.fail(corr, r.seq, "prev_hash is not the hash of the previous envelope")
        elif digest(r) != r.hash:
            self.fail(corr, r.seq, "hash does not match the envelope's content: it was altered")
        else:
            self.heads[corr] = (r.seq, r.hash)

    def fail(self, corr: str, seq: int, reason: str) -> None:
        if corr not in self.broken and (self.only is None or corr == self.only):
            self.broken.add(corr)
            self.report.breaks.append(ChainBreak(corr, seq, reason))


def verify(snap: Snapshot, layout: Layout, correlation_id: str | None = None) -> VerifyReport:
    """Check every chain (or one correlation's) in ``snap``; see the module docstring."""
    report = VerifyReport()
    chains = _Chains(report, correlation_id)
    for seg in snap.segments:
        if seg.file is None:
            _quarantined(seg, layout, chains, report)
        elif correlation_id is not None:
            loc = seg.locate(correlation_id)
            if loc is not None:
                _rows(seg, layout, chains, report, loc.first_row, loc.row_count)
        else:
            _whole_segment(seg, layout, chains, report)
    for r in snap.unsealed():
        chains.check(Record._make(r))
    report.correlations = len(chains.heads.keys() | chains.broken)
    return report


def _quarantined(seg: Segment, layout: Layout, chains: _Chains, report: VerifyReport) -> None:
    entry = seg.entry
    reason = f"in quarantined segment {entry.file}: {entry.reason}"
    if not index_ok(layout, entry):
        report.problems.append(Problem(entry.file, f"quarantined ({entry.reason}); its index is unreadable too, "
                                       f"positions {entry.first_position}..{entry.last_position} are missing"))
        return
    index = pq.read_table(layout.root / entry.index_file, columns=["correlation_id", "first_seq"])
    for corr, first in zip(*(c.to_pylist() for c in index.columns), strict=True):
        chains.fail(corr, first, reason)


def _whole_segment(seg: Segment, layout: Layout, chains: _Chains, report: VerifyReport) -> None:
    assert seg.file is not None
    if file_sha256(seg.file.path) != seg.entry.sha256:
        report.problems.append(Problem(seg.entry.file, "file SHA-256 differs from the one recorded at sealing"))
    for group in range(seg.file.num_row_groups):
        _row_group(seg, layout, chains, report, group)


def _rows(seg: Segment, layout: Layout, chains: _Chains, report: VerifyReport, first: int, count: int) -> None:
    assert seg.file is not None
    try:
        records = table_to_records(seg.file.read_rows(first, count))
    except Exception:  # fall back to the row groups, which say precisely what is wrong
        groups = {g for g in range(seg.file.num_row_groups)
                  if seg.file.row_group_start(g) < first + count
                  and (g + 1 == seg.file.num_row_groups or seg.file.row_group_start(g + 1) > first)}
        for g in sorted(groups):
            _row_group(seg, layout, chains, report, g)
        return
    for r in records:
        chains.check(r)


def _row_group(seg: Segment, layout: Layout, chains: _Chains, report: VerifyReport, group: int) -> None:
    assert seg.file is not None
    try:
        records = table_to_records(seg.file.read_row_group(group))
    except Exception as checked:
        try:
            raw = SegmentFile(seg.file.path, verify_checksums=False)
            records = table_to_records(raw.read_row_group(group))
        except Exception as e:
            _unreadable(seg, chains, group, f"row group {group} of {seg.entry.file} is unreadable ({e})")
            return
        report.problems.append(Problem(seg.entry.file, f"row group {group}: page checksum failed ({checked})"))
    for r in records:
        chains.check(r)


def _unreadable(seg: Segment, chains: _Chains, group: int, reason: str) -> None:
    """Name each correlation of an undecodable row group at its first seq there."""
    assert seg.file is not None
    start = seg.file.row_group_start(group)
    end = seg.file.row_group_start(group + 1) if group + 1 < seg.file.num_row_groups else seg.file.num_rows
    for corr, loc in seg.full_index().items():
        lo, hi = max(start, loc.first_row), min(end, loc.first_row + loc.row_count)
        if lo < hi:
            chains.fail(corr, loc.first_seq + (lo - loc.first_row), reason)

