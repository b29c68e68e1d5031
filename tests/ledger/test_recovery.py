"""Opening a damaged ledger: detect, quarantine, report; never drop silently, never crash-loop."""

from __future__ import annotations

import json

import pytest

from chatsnapshot.ledger import Ledger, LedgerFormatError, LedgerOptions
from tests.helpers import python

QUICK = LedgerOptions(row_group_rows=16)


def crash_with_wal(path) -> list[dict]:
    """A writer appends one batch and dies without sealing: the facts are only in the WAL."""
    child = python("-m", "tests.ledger.writer_process", "tests.ledger.conformance:open_default", str(path), "crash")
    out, err = child.communicate(timeout=60)
    acks = [json.loads(line[4:]) for line in out.splitlines() if line.startswith("ACK ")]
    assert child.returncode == 0 and acks, err
    return acks


def wal_file(path):
    (wal,) = [p for p in (path / "wal").glob("*.wal") if p.stat().st_size]
    return wal


def test_torn_wal_tail_is_quarantined_and_nothing_acknowledged_is_lost(tmp_path):
    acks = crash_with_wal(tmp_path)
    wal = wal_file(tmp_path)
    data = wal.read_bytes()
    with wal.open("ab") as f:
        f.write(data[: len(data) // len(acks) // 2])  # half of a record: a write the crash cut
    with Ledger.open(tmp_path) as ledger:
        (item,) = ledger.recovery.quarantined
        assert "torn tail" in item.reason and not item.lost
        assert (tmp_path / item.moved_to).exists() and (tmp_path / (item.moved_to + ".report.json")).exists()
        assert ledger.recovery.wal_records == len(acks)
        stored = {e.event_id for r in ledger.runs() for e in ledger.replay(r.correlation_id)}
        assert stored == {a["id"] for a in acks}
        assert ledger.verify().ok


def test_damage_inside_the_wal_names_the_missing_correlation_and_seqs(tmp_path):
    acks = crash_with_wal(tmp_path)
    assert len(acks) >= 3
    wal = wal_file(tmp_path)
    data = bytearray(wal.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a bit rot in the middle: one record no longer matches its hash
    wal.write_bytes(bytes(data))
    with Ledger.open(tmp_path) as ledger:
        damaged = [q for q in ledger.recovery.quarantined if q.lost]
        assert len(damaged) == 1 and "damaged bytes" in damaged[0].reason
        report = ledger.verify()
        assert not report.ok
        stored = {e.event_id for r in ledger.runs() for e in ledger.replay(r.correlation_id)}
        (lost,) = [a for a in acks if a["id"] not in stored]
        assert report.breaks[0].correlation_id == lost["corr"] and report.breaks[0].seq == lost["seq"]
        if damaged[0].affected:  # a later envelope of the same chain shows the gap
            assert damaged[0].affected == [(lost["corr"], lost["seq"], lost["seq"])]


def two_segments(path, facts):
    """Segment 1 holds run-a, segment 2 holds run-b."""
    with Ledger.open(path, options=QUICK) as ledger:
        ledger.append(facts(40, correlations=1, prefix="a"))
        ledger.seal()
        ledger.append(facts(30, correlations=1, prefix="b"))
    manifest = json.loads((path / "MANIFEST").read_text())
    return [path / s["file"] for s in manifest["segments"]]


def test_truncated_segment_and_leftover_tmp_are_quarantined_and_reported(tmp_path, facts):
    seg_a, _seg_b = two_segments(tmp_path, facts)
    data = seg_a.read_bytes()
    seg_a.write_bytes(data[: len(data) // 2])
    leftover = tmp_path / "segments" / "seg-000000000099.parquet.tmp"
    leftover.write_bytes(b"half a segment")
    with Ledger.open(tmp_path) as ledger:
        items = {q.file: q for q in ledger.recovery.quarantined}
        assert set(items) == {"segments/seg-000000000001.parquet", "segments/seg-000000000099.parquet.tmp"}
        truncated = items["segments/seg-000000000001.parquet"]
        assert truncated.lost and "manifest recorded" in truncated.reason
        assert truncated.affected == [("a-0", 1, 40)]
        assert not items["segments/seg-000000000099.parquet.tmp"].lost
        assert not leftover.exists() and not seg_a.exists()
        assert [e.seq for e in ledger.replay("b-0")] == list(range(1, 31))
        assert list(ledger.replay("a-0")) == []
        report = ledger.verify()
        assert [(b.correlation_id, b.seq) for b in report.breaks] == [("a-0", 1)]
        # the lost seqs are never handed out again
        (result,) = ledger.append(facts(1, correlations=1, prefix="a"))
        assert result.seq == 41
    with Ledger.open(tmp_path) as ledger:  # opening again: no new quarantine, no crash loop
        assert ledger.recovery.quarantined == []
        assert [e.seq for e in ledger.replay("a-0")] == [41]


def test_damaged_index_is_rebuilt_from_its_segment(tmp_path, facts):
    two_segments(tmp_path, facts)
    index = tmp_path / "index" / "seg-000000000002.parquet"
    index.write_bytes(b"garbage")
    with Ledger.open(tmp_path) as ledger:
        assert any("rebuilt the damaged index" in w for w in ledger.recovery.warnings)
        assert [e.seq for e in ledger.replay("b-0")] == list(range(1, 31))
        assert ledger.verify().ok


def test_missing_manifest_is_refused_without_touching_anything(tmp_path, facts):
    two_segments(tmp_path, facts)
    (tmp_path / "MANIFEST").unlink()
    before = sorted(p.name for p in (tmp_path / "segments").iterdir())
    with pytest.raises(LedgerFormatError, match="restore the MANIFEST"):
        Ledger.open(tmp_path)
    assert sorted(p.name for p in (tmp_path / "segments").iterdir()) == before


def test_reader_sees_what_a_crashed_writer_left_in_the_wal(tmp_path):
    acks = crash_with_wal(tmp_path)
    with Ledger.open(tmp_path, readonly=True) as reader:
        stored = {e.event_id for r in reader.runs() for e in reader.replay(r.correlation_id)}
        assert stored == {a["id"] for a in acks}
    assert list((tmp_path / "segments").iterdir()) == []  # the reader changed nothing


def test_a_manifest_reads_back_as_it_was_saved_and_is_plain_json(tmp_path):
    from dataclasses import asdict

    from chatsnapshot.ledger._engine.manifest import (
        FORMAT,
        VERSION,
        LostRecord,
        Manifest,
        SegmentEntry,
        load_manifest,
        save_manifest,
    )

    segments = tuple(SegmentEntry(i, f"segments/seg-{i}.parquet", f"index/seg-{i}.parquet", 10, 999, "ab" * 32,
                                  99, "cd" * 32, 10 * i + 1, 10 * i + 10, 6) for i in range(3))
    segments += (segments[0].quarantined('a "quoted" reason, with a newline\nin it'),)
    lost = (LostRecord(7, "run-1", 3, "ef" * 32, "frame damaged"), LostRecord(None, None, None, None, "unreadable"))
    for manifest in (Manifest(), Manifest(4, 9, 30, segments, ("segments/old.parquet",), lost, "ledger-1",
                                          {"size": 30, "subtrees": ["00" * 32]})):
        path = tmp_path / "MANIFEST"
        save_manifest(path, manifest)
        assert load_manifest(path) == manifest
        doc = json.loads(path.read_text())
        assert doc == {"format": FORMAT, **json.loads(json.dumps(asdict(manifest))), "version": VERSION}
