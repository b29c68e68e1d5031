"""Opening a ledger: check what is on disk, quarantine what is damaged, replay the WAL.

The writer's open (``recover``) does, in order:

1. temporary files and files the MANIFEST does not list -> quarantine (left by
   a seal or compaction that a crash interrupted; their envelopes are in the
   WAL or in a listed segment);
2. every listed segment: present, the recorded size, a readable Parquet footer
   with the recorded row count; its index: the recorded SHA-256. A bad segment
   is quarantined and stays listed as ``quarantined``, with the correlations
   and seqs it held (from its index) in the report. A bad index next to a good
   segment is rebuilt from the segment;
3. the WAL files: every valid record above ``sealed_through`` is recovered. A
   torn tail (never acknowledged) and damaged ranges are copied to quarantine;
   records that damage destroyed are recorded in the MANIFEST as ``lost`` for
   good (``verify`` keeps reporting them; no seq or position is reused).

Nothing is deleted that was not already safe elsewhere, and a failure here is
reported in ``RecoveryReport`` rather than raised, so a damaged ledger still
opens: no crash loop. Full content checks (every hash) are ``verify``'s job.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from chatsnapshot.ledger._engine.catalog import Catalog
from chatsnapshot.ledger._engine.layout import Layout
from chatsnapshot.ledger._engine.manifest import LostRecord, Manifest, SegmentEntry
from chatsnapshot.ledger._engine.segment import file_sha256, write_parquet
from chatsnapshot.ledger._engine.segment_index import build_index
from chatsnapshot.ledger._engine.wal import Damage, scan
from chatsnapshot.ledger._engine.writer import Heads
from chatsnapshot.ledger.fsutil import fsync_dir
from chatsnapshot.ledger.records import Record

__all__ = ["Quarantined", "RecoveryReport", "WalRecovery", "check_segment", "describe_damaged", "recover_wal",
           "step_over",
           "sweep_leftovers"]


@dataclass
class Quarantined:
    """One thing recovery moved aside, and what that means for the data."""

    file: str  # where it was, relative to the ledger directory
    moved_to: str | None  # where it is now, or None when only the report was written
    reason: str
    lost: bool  # True when envelopes are missing from the ledger because of it
    affected: list[tuple[str, int, int]] = field(default_factory=list)  # (correlation, first seq, last seq)
    positions: tuple[int, int] | None = None

    def describe(self) -> str:
        what = "envelopes missing" if self.lost else "nothing lost"
        where = f" -> {self.moved_to}" if self.moved_to else ""
        text = f"{self.file}{where}: {self.reason} ({what})"
        if self.affected:
            shown = ", ".join(f"{c} seq {a}..{b}" for c, a, b in self.affected[:5])
            more = f" and {len(self.affected) - 5} more" if len(self.affected) > 5 else ""
            text += f"; affected: {shown}{more}"
        elif self.positions:
            text += f"; positions {self.positions[0]}..{self.positions[1]}"
        return text


@dataclass
class RecoveryReport:
    """What opening the ledger found and did."""

    wal_records: int = 0  # envelopes recovered from the WAL
    quarantined: list[Quarantined] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"quarantined {q.describe()}" for q in self.quarantined] + self.warnings


def _quarantine(layout: Layout, path: Path, item: Quarantined, data: bytes | None = None) -> Quarantined:
    """Move ``path`` (or write ``data``) into quarantine/ with a report beside it."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    target = layout.quarantine / f"{stamp}-{path.name}"
    n = 1
    while target.exists() or target.with_name(target.name + ".report.json").exists():
        target = layout.quarantine / f"{stamp}-{n}-{path.name}"
        n += 1
    if data is None:
        os.replace(path, target)
        fsync_dir(path.parent)
    else:
        target.write_bytes(data)
    item.moved_to = layout.relative(target)
    report = target.with_name(target.name + ".report.json")
    report.write_text(json.dumps(asdict(item), indent=1))
    fsync_dir(layout.quarantine)
    return item


def sweep_leftovers(layout: Layout, manifest: Manifest, report: RecoveryReport) -> None:
    """Quarantine temporary files and segment/index files the manifest does not list."""
    for name in manifest.retired:  # replaced by compaction: their rows are in listed segments
        (layout.root / name).unlink(missing_ok=True)
    listed = {e.file for e in manifest.segments} | {e.index_file for e in manifest.segments}
    candidates = [layout.root / "MANIFEST.tmp", *layout.segments.iterdir(), *layout.index.iterdir()]
    for path in candidates:
        if not path.is_file() or layout.relative(path) in listed:
            continue
        if path.name.endswith(".tmp"):
            reason = "temporary file left by an interrupted write"
        else:
            reason = "not listed in the MANIFEST (left by an interrupted seal or compaction)"
        item = Quarantined(layout.relative(path), None, reason + "; its envelopes are in the WAL or a listed segment",
                           lost=False, positions=_positions(path))
        report.quarantined.append(_quarantine(layout, path, item))


def _positions(path: Path) -> tuple[int, int] | None:
    try:
        md = pq.ParquetFile(path).metadata
        col = md.schema.names.index("position")
        stats = [md.row_group(i).column(col).statistics for i in range(md.num_row_groups)]
        return min(s.min for s in stats), max(s.max for s in stats)
    except Exception:  # unreadable leftovers are reported without positions
        return None


def check_segment(layout: Layout, entry: SegmentEntry) -> str | None:
    """Why a listed segment file is unusable, or None when it checks out."""
    path = layout.root / entry.file
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "segment file is missing"
    if size != entry.bytes:
        return f"segment is {size} bytes, the manifest recorded {entry.bytes} (truncated or overwritten)"
    try:
        rows = pq.ParquetFile(path).metadata.num_rows
    except Exception as e:
        return f"segment footer is unreadable: {e}"
    if rows != entry.rows:
        return f"segment has {rows} rows, the manifest recorded {entry.rows}"
    return None


def index_ok(layout: Layout, entry: SegmentEntry) -> bool:
    path = layout.root / entry.index_file
    try:
        return path.stat().st_size == entry.index_bytes and file_sha256(path) == entry.index_sha256
    except FileNotFoundError:
        return False


def rebuild_index(layout: Layout, entry: SegmentEntry, compression_level: int) -> SegmentEntry:
    """Write a fresh index for a good segment; returns the updated entry."""
    table = pq.read_table(layout.root / entry.file, columns=["correlation_id", "seq", "hash"])
    size, sha = write_parquet(build_index(table), layout.root / entry.index_file, row_group_rows=1024,
                              compression_level=compression_level, segment=False)
    return SegmentEntry(**{**asdict(entry), "index_bytes": size, "index_sha256": sha})


def describe_damaged(layout: Layout, entry: SegmentEntry, reason: str) -> Quarantined:
    """What an unusable segment held, by run and seqs (from its index, when that is intact)."""
    affected = []
    if index_ok(layout, entry):
        index = pq.read_table(layout.root / entry.index_file)
        affected = list(zip(*(index.column(n).to_pylist() for n in ("correlation_id", "first_seq", "last_seq")),
                            strict=True))
    return Quarantined(entry.file, None, reason, lost=True, affected=affected,
                       positions=(entry.first_position, entry.last_position))


def quarantine_segment(layout: Layout, entry: SegmentEntry, reason: str, report: RecoveryReport) -> SegmentEntry:
    item = describe_damaged(layout, entry, reason)
    path = layout.root / entry.file
    if path.exists():
        _quarantine(layout, path, item)
    report.quarantined.append(item)
    return entry.quarantined(reason)


def quarantined_heads(layout: Layout, entries: list[SegmentEntry]) -> dict[int, dict[str, tuple[int, bytes]]]:
    """Heads recorded in the indexes of quarantined segments, so their seqs are never reused."""
    found = {}
    for entry in entries:
        if not entry.healthy and index_ok(layout, entry):
            t = pq.read_table(layout.root / entry.index_file, columns=["correlation_id", "last_seq", "last_hash"])
            cols = [t.column(i).to_pylist() for i in range(3)]
            found[entry.id] = {c: (s, h) for c, s, h in zip(*cols, strict=True)}
    return found


def initial_heads(catalog: Catalog, layout: Layout) -> Heads:
    """Per-correlation (last seq, last hash) over every segment, in position order."""
    heads: Heads = {}
    lost = quarantined_heads(layout, [s.entry for s in catalog.segments])
    items: Iterable[tuple[str, tuple[int, bytes]]]
    for seg in catalog.segments:
        if seg.index is not None:
            items = ((c, (e.last_seq, e.last_hash)) for c, e in seg.index.items())
        else:
            items = lost.get(seg.entry.id, {}).items()
        for corr, head in items:
            if corr not in heads or head[0] > heads[corr][0]:
                heads[corr] = head
    return heads


def recover_wal(layout: Layout, sealed_through: int, heads: Heads, report: RecoveryReport,
                *, quarantine: bool) -> WalRecovery:
    """Valid WAL records above ``sealed_through``, in order, updating ``heads``.

    Damaged frames (complete, once durable, now failing their digest) are losses:
    each becomes a ``LostRecord`` with what the frame still says, and ``heads``
    move past the lost seqs, so that the next fact of that run never reuses one.
    Positions between the valid records around a damaged range (or before the
    next WAL file's first position) that no frame accounts for are lost too, by
    position alone. A torn tail (an incomplete frame at the end) was never
    acknowledged and loses nothing. With ``quarantine=False`` (a reader) damage is
    only reported, nothing is written.
    """
    out = WalRecovery()
    last = sealed_through
    files = layout.wal_files()
    for n, path in enumerate(files):
        result = scan(path)
        next_first = _first_position(files[n + 1]) if n + 1 < len(files) else None
        keep = [(at, r) for at, r in zip(result.offsets, result.records, strict=True) if r.position > last]
        gaps: list[tuple[str, int, int]] = []
        destroyed_at: dict[int, list[LostRecord]] = {}  # damage offset -> the records it destroyed
        # Valid records and damaged ranges in file order: a loss sits between its neighbours.
        events = sorted([*((at, 0, r) for at, r in keep), *((d.offset, 1, d) for d in result.damage)],
                        key=lambda e: (e[0], e[1]))
        for i, (_, kind, item) in enumerate(events):
            if kind == 0:
                assert isinstance(item, Record)
                last = _take(item, heads, gaps, out)
                continue
            assert isinstance(item, Damage)
            if item.torn_tail or item.recovered:
                continue
            following = next((e[2] for e in events[i + 1:] if e[1] == 0), None)
            before = following.position if isinstance(following, Record) else next_first
            destroyed = _lost(item, last, before, f"damaged WAL frame in {layout.relative(path)} "
                              f"at offset {item.offset}")
            for x in destroyed:
                step_over(x, heads)
            out.lost.extend(destroyed)
            destroyed_at[item.offset] = destroyed
            last = max([last, *(x.position for x in destroyed if x.position is not None)])
        keep_records = [r for _, r in keep]
        data = path.read_bytes() if result.damage and quarantine else b""
        for d in result.damage:
            if d.torn_tail:
                reason = (f"torn tail of {d.length} bytes at offset {d.offset}: an incomplete write that was never "
                          "acknowledged")
            elif d.recovered:
                reason = (f"a damaged length prefix at offset {d.offset}; the record it framed is intact and was "
                          "recovered")
            else:
                reason = (f"{d.length} damaged bytes at offset {d.offset} ({len(d.frames)} complete frame(s) whose "
                          "digest no longer matches)")
            affected = [] if d.torn_tail or d.recovered else gaps + [
                (x.correlation_id, x.seq, x.seq) for x in destroyed_at.get(d.offset, ())
                if x.correlation_id is not None and x.seq is not None]
            item = Quarantined(layout.relative(path), None, reason, lost=not (d.torn_tail or d.recovered),
                               affected=affected)
            if quarantine:
                item = _quarantine(layout, path.with_name(f"{path.stem}-{d.offset}.wal"), item,
                                   data[d.offset:d.offset + d.length])
                report.quarantined.append(item)
            else:
                report.warnings.append(f"WAL {item.describe()}")
        if keep_records or any(not (d.torn_tail or d.recovered) for d in result.damage):
            out.sources.append(path)
        elif quarantine:
            path.unlink()  # nothing above sealed_through, nothing damaged: already sealed or empty
    report.wal_records = len(out.records)
    for lost in out.lost:
        report.warnings.append(f"lost for good: {lost.describe()}")
    return out


@dataclass
class WalRecovery:
    """What ``recover_wal`` found: the records to seal, the files they came from, the losses."""

    records: list[Record] = field(default_factory=list)
    sources: list[Path] = field(default_factory=list)
    lost: list[LostRecord] = field(default_factory=list)


def _first_position(path: Path) -> int | None:
    return int(path.stem) if path.stem.isdigit() else None


def _take(r: Record, heads: Heads, gaps: list[tuple[str, int, int]], out: WalRecovery) -> int:
    seq, _ = heads.get(r.correlation_id, (0, b""))
    if r.seq > seq + 1:
        gaps.append((r.correlation_id, seq + 1, r.seq - 1))
    heads[r.correlation_id] = (r.seq, r.hash)
    out.records.append(r)
    return r.position


def _lost(d: Damage, after: int, before: int | None, reason: str) -> list[LostRecord]:
    """The records a damaged range destroyed: one per frame whose body still says which
    (when its position fits between its neighbours), then every position in between that
    no frame accounts for."""
    found: list[LostRecord] = []
    known: set[int] = set()
    for frame in d.frames:
        r = frame.record
        if r is not None and r.position > after and (before is None or r.position < before):
            found.append(LostRecord(r.position, r.correlation_id, r.seq, frame.digest.hex(), reason))
            known.add(r.position)
    upper = before if before is not None else max([after + len(d.frames), *known], default=after) + 1
    found += [LostRecord(p, None, None, None, reason) for p in range(after + 1, upper) if p not in known]
    return sorted(found, key=lambda x: x.position or 0)


def step_over(lost: LostRecord, heads: Heads) -> None:
    """Move a run's head past a lost seq: its next fact takes the seq after it."""
    if lost.correlation_id is None or lost.seq is None or lost.hash is None:
        return
    seq, _ = heads.get(lost.correlation_id, (0, b""))
    if lost.seq > seq:
        heads[lost.correlation_id] = (lost.seq, bytes.fromhex(lost.hash))
