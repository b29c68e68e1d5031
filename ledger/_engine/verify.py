"""verify: recompute every hash chain and check that the files agree with each other.

Chains. For each correlation, in seq order: seq must be the previous seq + 1
(from 1), ``prev_hash`` the previous envelope's ``hash`` (zeros for seq 1), and
``hash`` the SHA-256 of the envelope's canonical encoding (``ledger.records``).
The first place a chain fails is reported as ``(correlation_id, seq)``; the rest
of that chain is not checked further. Records the MANIFEST lists as ``lost``
(WAL damage) are reported every time, and the chain is checked on past them.

Files. Each segment and each index must match the SHA-256 the MANIFEST recorded
when they were written. Inside a segment, each index row's range must hold
exactly its run, seq ``first_seq`` to ``last_seq``, ending in ``last_hash``: a
row deleted, inserted or moved, or a run cut off at the end of a segment, is
named by run and seq. Over the whole ledger, positions must be 1..N without a
gap or a repeat (lost records aside), and ``sealed_through`` must be where the
segments end: a deleted segment is missing positions.

A row group that cannot be decoded (a flipped byte makes its page checksum
fail) is read again without page checksums, so that when the damage only
changed values the chain names the exact envelope; when it cannot be decoded
at all, each correlation in that row group is reported at its first seq there.
Rows of a quarantined segment are reported as missing, by the seqs its index
recorded.

Erasures. An erased envelope (payload replaced by a marker, only its salted
digest kept: ``_engine/erasure.py``) verifies like any other and is counted in
``erased``; it is a break when no ``system.erasure`` fact records it.

What no check here can see: someone who rewrites a run (or the whole ledger)
consistently, recomputing every hash, the index and the MANIFEST. A signed
checkpoint kept elsewhere catches that.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow.parquet as pq

from chatsnapshot.ledger._engine.catalog import IndexEntry, Segment
from chatsnapshot.ledger._engine.erasure import ERASURE_EVENT, ERASURES_RUN, erasure_marker
from chatsnapshot.ledger._engine.layout import Layout
from chatsnapshot.ledger._engine.manifest import LostRecord, Manifest
from chatsnapshot.ledger._engine.recovery import index_ok
from chatsnapshot.ledger._engine.segment import SegmentFile, file_sha256, table_to_records
from chatsnapshot.ledger._engine.snapshot import Snapshot, replay_records
from chatsnapshot.ledger.ids import canonical_uuid, uuid_bytes
from chatsnapshot.ledger.records import GENESIS, Record, digest
from chatsnapshot.ledger.results import ChainBreak, Problem, VerifyReport

__all__ = ["verify"]


class _Chains:
    """Running state of every chain seen so far."""

    def __init__(self, report: VerifyReport, only: str | None, lost: Iterable[LostRecord]) -> None:
        self.report = report
        self.only = only
        self.heads: dict[str, tuple[int, bytes]] = {}
        self.broken: set[str] = set()
        self.lost = {(x.correlation_id, x.seq) for x in lost if x.correlation_id is not None and x.seq is not None}
        self.erased: list[tuple[str, int, bytes, str]] = []  # (correlation_id, seq, event_id, payload) when erased

    def wanted(self, corr: str) -> bool:
        return corr not in self.broken and (self.only is None or corr == self.only)

    def check(self, r: Record) -> None:
        corr = r.correlation_id
        if not self.wanted(corr):
            return
        self.report.envelopes += 1
        seq, prev = self.heads.get(corr, (0, GENESIS))
        expected_prev: bytes | None = prev
        if r.seq > seq + 1 and all((corr, s) in self.lost for s in range(seq + 1, r.seq)):
            # Past a recorded loss (reported on its own): what the lost record's hash was cannot be
            # trusted (its frame was damaged), so the link is not checked; the envelope's own hash is.
            expected_prev = None
        elif r.seq != seq + 1:
            self.fail(corr, seq + 1, f"missing: the next stored envelope is seq {r.seq}")
            return
        if expected_prev is not None and r.prev_hash != expected_prev:
            self.fail(corr, r.seq, "prev_hash is not the hash of the previous envelope")
        elif digest(r) != r.hash:
            self.fail(corr, r.seq, "hash does not match the envelope's content: it was altered")
        else:
            self.heads[corr] = (r.seq, r.hash)
            if r.payload_salt is None and r.payload_digest is not None:
                self.report.erased += 1
                self.erased.append((corr, r.seq, r.event_id, r.payload))

    def fail(self, corr: str, seq: int, reason: str) -> None:
        if self.wanted(corr):
            self.broken.add(corr)
            self.report.breaks.append(ChainBreak(corr, seq, reason))


def verify(snap: Snapshot, manifest: Manifest, layout: Layout, correlation_id: str | None = None) -> VerifyReport:
    """Check every chain and file (or one correlation's); see the module docstring."""
    report = VerifyReport()
    chains = _Chains(report, correlation_id, manifest.lost)
    positions: list[np.ndarray] = []
    for seg in snap.segments:
        if seg.file is None:
            _quarantined(seg, layout, chains, report)
        elif correlation_id is not None:
            loc = seg.locate(correlation_id)
            if loc is not None:
                _run_rows(seg, layout, chains, report, correlation_id, loc)
        else:
            positions.append(_whole_segment(seg, layout, chains, report))
    unsealed = [Record._make(r) for r in snap.unsealed()]
    for r in unsealed:
        chains.check(r)
    for x in manifest.lost:
        if x.correlation_id is not None and x.seq is not None:
            if correlation_id is None or x.correlation_id == correlation_id:
                report.breaks.append(ChainBreak(x.correlation_id, x.seq, f"lost: {x.reason}"))
        elif correlation_id is None:
            report.problems.append(Problem("wal", f"position {x.position} lost ({x.reason}); its run is unknown"))
    if chains.erased:
        _erasures_recorded(snap, chains)
    if correlation_id is None:
        positions.append(np.array([r.position for r in unsealed], dtype=np.int64))
        _positions(np.concatenate(positions) if positions else np.array([], np.int64), snap, manifest, report)
    report.correlations = len(chains.heads.keys() | chains.broken)
    return report


def _erasures_recorded(snap: Snapshot, chains: _Chains) -> None:
    """Every erased payload is named by a ``system.erasure`` fact and carries exactly that erasure's
    marker: an erasure no fact records, or a marker changed afterwards, was not made by ``erase``
    (someone replaced a payload by hand, keeping its digest)."""
    named: dict[bytes, str] = {}  # erased event id -> the marker it must carry
    for r in replay_records(snap, ERASURES_RUN):
        if r.event_type != ERASURE_EVENT:
            continue
        try:
            doc = json.loads(r.payload)
            marker = erasure_marker(doc["record"], by=doc["by"], reason=doc["reason"], at=r.occurred_at)
            ids = [canonical_uuid(i) for i in doc["event_ids"]]
        except (ValueError, KeyError, TypeError):
            chains.report.problems.append(Problem(ERASURES_RUN, f"seq {r.seq} is not an erasure record"))
            continue
        named.update((uuid_bytes(i), marker) for i in ids if i is not None)
    for corr, seq, eid, payload in chains.erased:
        expected = named.get(eid)
        if expected is None:
            chains.fail(corr, seq, f"erased, but no {ERASURE_EVENT} fact in run {ERASURES_RUN} records it")
        elif payload != expected:
            chains.fail(corr, seq, "erased, but its payload is not the marker its erasure record gives: altered")


def _positions(found: np.ndarray, snap: Snapshot, manifest: Manifest, report: VerifyReport) -> None:
    """Positions 1..N, each once, lost ones and quarantined segments aside; sealed_through where segments end."""
    excused = [np.array([x.position for x in manifest.lost if x.position is not None], dtype=np.int64)]
    for seg in snap.segments:
        if seg.file is None:
            excused.append(np.arange(seg.entry.first_position, seg.entry.last_position + 1, dtype=np.int64))
    known = np.concatenate([found, *excused])
    top = max(int(known.max()) if known.size else 0, manifest.sealed_through)
    values, counts = np.unique(found, return_counts=True)
    for p in values[counts > 1][:10]:
        report.problems.append(Problem("positions", f"position {int(p)} is stored more than once"))
    missing = np.setdiff1d(np.arange(1, top + 1, dtype=np.int64), known, assume_unique=False)
    for first, last in _ranges(missing):
        report.problems.append(Problem("positions", f"positions {first}..{last} are missing: envelopes were removed"))
    sealed_end = max((e.last_position for e in manifest.segments), default=0)
    if manifest.sealed_through != sealed_end:
        report.problems.append(Problem("MANIFEST", f"sealed_through is {manifest.sealed_through} but the listed "
                                                   f"segments end at position {sealed_end}"))


def _ranges(values: np.ndarray) -> Iterator[tuple[int, int]]:
    """Runs of consecutive integers in a sorted array, as (first, last)."""
    if not values.size:
        return
    cuts = np.flatnonzero(np.diff(values) != 1) + 1
    for run in np.split(values, cuts):
        yield int(run[0]), int(run[-1])


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


class _IndexCheck:
    """Walks a segment's rows in file order against its index: each range holds only its
    run, seq first_seq..last_seq, ending in last_hash; no row lies outside every range."""

    def __init__(self, seg: Segment, chains: _Chains, report: VerifyReport) -> None:
        self.file = seg.entry.file
        self.chains, self.report = chains, report
        self.ranges = sorted(seg.full_index().items(), key=lambda item: item[1].first_row)
        self.at = 0  # the range the next row should be in
        self.row = 0
        self.seen: tuple[int, bytes] | None = None  # (seq, hash) of the last row of the current range
        self.moved = False

    def row_of(self, r: Record) -> None:
        while self.at < len(self.ranges) and self.row >= _end(self.ranges[self.at][1]):
            self._close(self.ranges[self.at])
            self.at += 1
        if self.at < len(self.ranges) and self.ranges[self.at][1].first_row <= self.row:
            corr, entry = self.ranges[self.at]
            if r.correlation_id != corr:
                self._moved(r, f"row {self.row} holds {r.correlation_id} seq {r.seq}, but the index gives rows "
                               f"{entry.first_row}..{_end(entry) - 1} to {corr}")
            else:
                self.seen = (r.seq, r.hash)
        else:
            self._moved(r, f"row {self.row} ({r.correlation_id} seq {r.seq}) is in no index range")
        self.row += 1

    def skip(self, rows: int) -> None:
        """Rows that could not be read at all (already reported by run and seq)."""
        self.row += rows
        self.seen = None

    def finish(self) -> None:
        while self.at < len(self.ranges):
            corr, entry = self.ranges[self.at]
            if self.row < _end(entry):
                seq = self.seen[0] + 1 if self.seen and self.row > entry.first_row else entry.first_seq
                self.chains.fail(corr, seq, f"cut off: {self.file} ends at row {self.row}, its index says the run "
                                            f"goes on to seq {entry.last_seq}")
                self.report.problems.append(Problem(self.file, f"has {self.row} rows; its index says "
                                                               f"{_end(self.ranges[-1][1])}"))
                return
            self._close(self.ranges[self.at])
            self.at += 1

    def _close(self, item: tuple[str, IndexEntry]) -> None:
        corr, entry = item
        if self.seen is not None and self.seen != (entry.last_seq, entry.last_hash) and not self.moved:
            self.chains.fail(corr, self.seen[0], f"the run ends at seq {self.seen[0]} in {self.file}, but its index "
                                                 f"says seq {entry.last_seq}")
        self.seen = None

    def _moved(self, r: Record, what: str) -> None:
        if not self.moved:
            self.moved = True
            self.report.problems.append(Problem(self.file, f"{what}: rows were inserted, deleted or moved"))
        self.chains.fail(r.correlation_id, r.seq, f"not where the index of {self.file} puts it ({what})")


def _end(entry: IndexEntry) -> int:
    return entry.first_row + entry.row_count


def _whole_segment(seg: Segment, layout: Layout, chains: _Chains, report: VerifyReport) -> np.ndarray:
    assert seg.file is not None
    if file_sha256(seg.file.path) != seg.entry.sha256:
        report.problems.append(Problem(seg.entry.file, "file SHA-256 differs from the one recorded at sealing"))
    if not index_ok(layout, seg.entry):
        report.problems.append(Problem(seg.entry.index_file, "index SHA-256 differs from the one the MANIFEST "
                                                             "recorded"))
    index = _IndexCheck(seg, chains, report)
    positions = []
    for group in range(seg.file.num_row_groups):
        records = _row_group(seg, chains, report, group)
        if records is None:
            end = seg.file.row_group_start(group + 1) if group + 1 < seg.file.num_row_groups else seg.file.num_rows
            index.skip(end - seg.file.row_group_start(group))
            continue
        for r in records:
            index.row_of(r)
            chains.check(r)
            positions.append(r.position)
    index.finish()
    if len(positions) != seg.entry.rows:
        report.problems.append(Problem(seg.entry.file, f"holds {len(positions)} rows; the MANIFEST recorded "
                                                       f"{seg.entry.rows}"))
    return np.array(positions, dtype=np.int64)


def _run_rows(seg: Segment, layout: Layout, chains: _Chains, report: VerifyReport, corr: str,
              loc: IndexEntry) -> None:
    assert seg.file is not None
    try:
        records = table_to_records(seg.file.read_rows(loc.first_row, loc.row_count))
    except Exception:  # fall back to the row groups, which say precisely what is wrong
        first, count = loc.first_row, loc.row_count
        groups = {g for g in range(seg.file.num_row_groups)
                  if seg.file.row_group_start(g) < first + count
                  and (g + 1 == seg.file.num_row_groups or seg.file.row_group_start(g + 1) > first)}
        records = [r for g in sorted(groups) for r in _row_group(seg, chains, report, g) or ()
                   if r.correlation_id == corr]
    for r in records:
        if r.correlation_id != corr:
            chains.fail(corr, r.seq if chains.heads.get(corr) is None else chains.heads[corr][0] + 1,
                        f"the index of {seg.entry.file} gives it rows that hold {r.correlation_id}: rows were "
                        "inserted, deleted or moved")
            return
        chains.check(r)
    if len(records) < loc.row_count:
        seq = records[-1].seq + 1 if records else loc.first_seq
        chains.fail(corr, seq, f"cut off: {seg.entry.file} holds {len(records)} of its {loc.row_count} rows, "
                               f"its index says the run goes on to seq {loc.last_seq}")
    elif records and (records[-1].seq, records[-1].hash) != (loc.last_seq, loc.last_hash):
        chains.fail(corr, records[-1].seq, f"the run ends at seq {records[-1].seq} in {seg.entry.file}, but its "
                                           f"index says seq {loc.last_seq}")


def _row_group(seg: Segment, chains: _Chains, report: VerifyReport, group: int) -> list[Record] | None:
    """The rows of one row group; None when it cannot be read at all (reported by run and seq)."""
    assert seg.file is not None
    try:
        return table_to_records(seg.file.read_row_group(group))
    except Exception as checked:
        try:
            raw = SegmentFile(seg.file.path, verify_checksums=False)
            records = table_to_records(raw.read_row_group(group))
        except Exception as e:
            _unreadable(seg, chains, group, f"row group {group} of {seg.entry.file} is unreadable ({e})")
            return None
        report.problems.append(Problem(seg.entry.file, f"row group {group}: page checksum failed ({checked})"))
        return records


def _unreadable(seg: Segment, chains: _Chains, group: int, reason: str) -> None:
    """Name each correlation of an undecodable row group at its first seq there."""
    assert seg.file is not None
    start = seg.file.row_group_start(group)
    end = seg.file.row_group_start(group + 1) if group + 1 < seg.file.num_row_groups else seg.file.num_rows
    for corr, loc in seg.full_index().items():
        lo, hi = max(start, loc.first_row), min(end, loc.first_row + loc.row_count)
        if lo < hi:
            chains.fail(corr, loc.first_seq + (lo - loc.first_row), reason)
