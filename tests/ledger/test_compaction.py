"""Compaction merges segments without changing a single envelope."""

from __future__ import annotations

import itertools
import json
import random
import textwrap
import time

import pyarrow as pa

from chatsnapshot.ledger import Ledger, LedgerOptions
from chatsnapshot.ledger._engine.compaction import plan
from chatsnapshot.ledger._engine.manifest import SegmentEntry
from chatsnapshot.ledger._engine.segment_index import StreamedIndex, build_index
from tests.helpers import python

OPTIONS = LedgerOptions(row_group_rows=32, compact_target_rows=4096, auto_compact=False)


def many_segments(path, facts, seals=12):
    with Ledger.open(path, options=OPTIONS) as ledger:
        for _ in range(seals):
            ledger.append(facts(37, correlations=5))
            ledger.seal()


def everything(ledger):
    return {r.correlation_id: list(ledger.replay(r.correlation_id)) for r in ledger.runs()}


def test_compaction_keeps_every_envelope_identical(tmp_path, facts):
    many_segments(tmp_path, facts)
    with Ledger.open(tmp_path, options=OPTIONS) as ledger:
        before = everything(ledger)
        rows_before = ledger.sql("SELECT * FROM envelopes ORDER BY position")
        report = ledger.compact()
        assert (report.segments_before, report.segments_after, report.merged) == (12, 1, 12)
        assert everything(ledger) == before
        assert ledger.sql("SELECT * FROM envelopes ORDER BY position").equals(rows_before)
        assert ledger.verify().ok
    files = sorted(p.name for p in (tmp_path / "segments").iterdir())
    assert files == [json.loads((tmp_path / "MANIFEST").read_text())["segments"][0]["file"].split("/")[1]]
    with Ledger.open(tmp_path, readonly=True) as reader:
        assert everything(reader) == before


def test_reader_holding_an_old_snapshot_survives_a_compaction(tmp_path, facts):
    many_segments(tmp_path, facts, seals=4)
    with Ledger.open(tmp_path, readonly=True) as reader:
        expected = list(reader.replay("run-1"))
        pending = reader.replay("run-1")  # snapshot taken now, files opened on first read
        with Ledger.open(tmp_path, options=OPTIONS) as writer:
            writer.compact()
        assert list(pending) == expected


def test_background_compaction_waits_for_a_pause_in_appends(tmp_path, facts):
    options = LedgerOptions(row_group_rows=32, compact_target_rows=4096, compact_trigger=4, seal_interval=0.02,
                            compact_idle=0.3)
    manifest = tmp_path / "MANIFEST"
    with Ledger.open(tmp_path, options=options) as ledger:
        for round_ in range(12):
            ledger.append(facts(20))
            deadline = time.monotonic() + 10  # the background sealer seals within seal_interval
            while json.loads(manifest.read_text())["sealed_through"] < 20 * (round_ + 1):
                assert time.monotonic() < deadline, "the background sealer did not seal"
                time.sleep(0.01)
        busy = len(json.loads(manifest.read_text())["segments"])
        assert busy >= 4, "compaction ran while appends were coming in"
        deadline = time.monotonic() + 10  # appends have stopped: compaction follows compact_idle later
        while len(json.loads(manifest.read_text())["segments"]) >= 4:
            assert time.monotonic() < deadline, "background compaction did not run after appends paused"
            time.sleep(0.05)
        assert ledger.verify().ok


def entry(id_, rows, status="sealed", level=6):
    return SegmentEntry(id_, f"s{id_}", f"i{id_}", rows, 1, "", 1, "", id_ * 10, id_ * 10 + 9, level, status)


def test_plan_merges_only_adjacent_small_healthy_segments():
    entries = [entry(1, 10), entry(2, 10), entry(3, 900), entry(4, 10), entry(5, 10, "quarantined"),
               entry(6, 10), entry(7, 10), entry(8, 10)]
    groups = [[e.id for e in g] for g in plan(entries, target_rows=1000, level=6, fanin=16)]
    assert groups == [[1, 2], [6, 7, 8]]


def test_an_index_built_as_the_rows_stream_by_is_the_index_of_the_whole():
    rng = random.Random(5)
    # Sorted segment keys: correlations of 1 to 40 rows, cut into chunks at arbitrary rows, also
    # inside a correlation and at one row per chunk (what a merge yields, then the compactor writes).
    corrs, seqs = [], []
    for c in range(60):
        for s in range(1, rng.randint(1, 40) + 1):
            corrs.append(f"run-{c:03d}")
            seqs.append(s)
    n = len(corrs)
    table = pa.table({"correlation_id": corrs, "seq": pa.array(seqs, pa.int64()),
                      "hash": pa.array([rng.randbytes(32) for _ in range(n)], pa.binary(32)),
                      "position": pa.array(rng.sample(range(10 * n), n), pa.int64())})
    for cuts in ([], sorted(rng.sample(range(1, n), 25)), list(range(1, 30))):
        streamed = StreamedIndex()
        bounds = [0, *cuts, n]
        for a, b in itertools.pairwise(bounds):
            streamed.observe(table.slice(a, b - a))
        assert streamed.index().equals(build_index(table))
        assert streamed.rows == n
        assert streamed.positions == (min(table.column("position").to_pylist()),
                                      max(table.column("position").to_pylist()))


def test_plan_merges_at_most_fanin_segments_at_once():
    entries = [entry(i, 10) for i in range(1, 8)]
    groups = [[e.id for e in g] for g in plan(entries, target_rows=1000, level=6, fanin=3)]
    assert groups == [[1, 2, 3], [4, 5, 6]]  # the seventh waits for company (alone, it is already compact)


def test_plan_recompresses_segments_written_at_the_sealing_level():
    entries = [entry(1, 900, level=3), entry(2, 10, level=3), entry(3, 900, level=6)]
    groups = [[e.id for e in g] for g in plan(entries, target_rows=1000, level=6, fanin=16)]
    assert groups == [[1], [2]]


def test_files_retired_by_a_compaction_are_deleted_at_the_next_open_after_a_crash(tmp_path, facts):
    many_segments(tmp_path, facts, seals=3)
    child = python("-c", textwrap.dedent(f"""
        import os
        from chatsnapshot.ledger import Ledger, LedgerOptions
        ledger = Ledger.open({str(tmp_path)!r}, options=LedgerOptions(auto_compact=False))
        ledger.compact()
        os._exit(0)  # before the grace period: the replaced files are still on disk
    """))
    assert child.wait(timeout=60) == 0, child.stderr.read()
    retired = json.loads((tmp_path / "MANIFEST").read_text())["retired"]
    assert len(retired) == 6 and all((tmp_path / name).exists() for name in retired)
    with Ledger.open(tmp_path, options=OPTIONS) as ledger:
        assert ledger.recovery.quarantined == []
        assert not any((tmp_path / name).exists() for name in retired)
        assert sum(r.envelopes for r in ledger.runs()) == 3 * 37 and ledger.verify().ok
    assert json.loads((tmp_path / "MANIFEST").read_text())["retired"] == []
