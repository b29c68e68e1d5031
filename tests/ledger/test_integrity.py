"""Verification that catches every loss a damaged disk or a careless edit can cause.

Each test damages a copy of a real multi-segment ledger the way a person or a disk
would, then reads what ``verify`` (and the CLI) say about it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from chatsnapshot.ledger import CorruptSegmentError, Envelope, Ledger, LedgerFormatError, LedgerOptions
from tests.helpers import ROOT
from tests.ledger.test_recovery import crash_with_wal, wal_file

OPTIONS = LedgerOptions(row_group_rows=16, auto_compact=False, seal_interval=3600)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """Three segments, four runs each spread over all of them."""
    from tests.helpers import make_facts

    path = tmp_path_factory.mktemp("pristine")
    with Ledger.open(path, options=OPTIONS) as ledger:
        for _ in range(3):
            ledger.append(make_facts(60, correlations=4, words=20))
            ledger.seal()
    return path


@pytest.fixture
def ledger_copy(pristine, tmp_path):
    copy = tmp_path / "ledger"
    shutil.copytree(pristine, copy)
    return copy


def segments(path) -> list[dict]:
    return json.loads((path / "MANIFEST").read_text())["segments"]


def cli(path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chatsnapshot.cli.main", "--ledger", str(path), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def rewrite(segment, change) -> tuple[pa.Table, pa.Table]:
    """Rewrite a segment file with ``change(table)``, as a careless editor would (same schema)."""
    table = pq.read_table(segment)
    changed = change(table)
    pq.write_table(changed, segment)
    return table, changed


def run_rows(table: pa.Table, corr: str) -> list[int]:
    return [i for i, c in enumerate(table.column("correlation_id").to_pylist()) if c == corr]


def test_a_clean_multi_segment_ledger_verifies(ledger_copy):
    assert len(segments(ledger_copy)) == 3
    done = cli(ledger_copy, "verify")
    assert done.returncode == 0 and "every chain holds" in done.stdout, done.stdout + done.stderr
    assert "not seen by this check" in done.stdout  # it says what it cannot see


def test_a_run_cut_off_at_the_end_of_its_segment_fails_verify(ledger_copy):
    entry = segments(ledger_copy)[-1]  # the newest segment holds each run's last envelopes
    table = pq.read_table(ledger_copy / entry["file"])
    corr = table.column("correlation_id")[table.num_rows - 1].as_py()  # the last run in the file
    rows = run_rows(table, corr)
    rewrite(ledger_copy / entry["file"], lambda t: t.slice(0, rows[-2]))  # its last two envelopes gone
    last_kept = table.column("seq")[rows[-3]].as_py()
    one = cli(ledger_copy, "verify", corr)
    assert one.returncode == 1, one.stdout + one.stderr
    assert f"BROKEN correlation {corr} seq {last_kept + 1}" in one.stdout and "cut off" in one.stdout
    whole = cli(ledger_copy, "verify")
    assert whole.returncode == 1 and f"BROKEN correlation {corr}" in whole.stdout


def test_a_deleted_row_does_not_shift_another_runs_replay(ledger_copy):
    entry = segments(ledger_copy)[0]
    table = pq.read_table(ledger_copy / entry["file"])
    first_corr = table.column("correlation_id")[0].as_py()
    victim = table.column("correlation_id")[run_rows(table, first_corr)[-1] + 1].as_py()  # the next run
    rewrite(ledger_copy / entry["file"], lambda t: pa.concat_tables([t.slice(0, 3), t.slice(4)]))
    with Ledger.open(ledger_copy, readonly=True) as reader:
        with pytest.raises(CorruptSegmentError, match="inserted, deleted or moved"):
            list(reader.replay(victim))
        report = reader.verify()
    assert not report.ok and {b.correlation_id for b in report.breaks} >= {first_corr, victim}
    assert any("inserted, deleted or moved" in p.reason for p in report.problems)
    done = cli(ledger_copy, "replay", victim)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "verify" in done.stderr


@pytest.mark.parametrize("tamper", ["inserted", "duplicated", "swapped"])
def test_rows_inserted_duplicated_or_swapped_are_named(ledger_copy, tamper):
    entry = segments(ledger_copy)[1]
    path = ledger_copy / entry["file"]
    table = pq.read_table(path)
    corrs = table.column("correlation_id").to_pylist()
    a = 5
    b = next(i for i in range(a, len(corrs)) if corrs[i] != corrs[a])  # a row of the next run
    if tamper == "inserted":  # a forged envelope of run a, squeezed in
        change = lambda t: pa.concat_tables([t.slice(0, a + 1), t.slice(a, 1), t.slice(a + 1)])  # noqa: E731
    elif tamper == "duplicated":
        change = lambda t: pa.concat_tables([t.slice(0, b), t.slice(b, 1), t.slice(b)])  # noqa: E731
    else:
        order = list(range(table.num_rows))
        order[a], order[b] = order[b], order[a]
        change = lambda t: t.take(order)  # noqa: E731
    rewrite(path, change)
    done = cli(ledger_copy, "verify")
    assert done.returncode == 1, done.stdout
    assert f"BROKEN correlation {corrs[a]}" in done.stdout or f"BROKEN correlation {corrs[b]}" in done.stdout


def test_a_deleted_last_segment_is_missing_positions_and_the_writer_will_not_reuse_its_seqs(ledger_copy):
    manifest = json.loads((ledger_copy / "MANIFEST").read_text())
    last = manifest["segments"].pop()
    (ledger_copy / last["file"]).unlink()
    (ledger_copy / last["index_file"]).unlink()
    (ledger_copy / "MANIFEST").write_text(json.dumps(manifest))  # sealed_through still says where it ended
    done = cli(ledger_copy, "verify")
    assert done.returncode == 1, done.stdout
    assert f"positions {last['first_position']}..{last['last_position']} are missing" in done.stdout
    assert "sealed_through" in done.stdout
    with pytest.raises(LedgerFormatError, match=f"positions {last['first_position']}..{last['last_position']}"):
        Ledger.open(ledger_copy)  # appending now could hand out seqs that the lost segment held


def test_verify_of_an_unknown_run_is_exit_2(ledger_copy):
    done = cli(ledger_copy, "verify", "no-such-run")
    assert done.returncode == 2 and "no run 'no-such-run'" in done.stderr and done.stdout == ""


# -- WAL damage: reported, recorded, never a reused seq -----------------------------------


def _frames(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) of each WAL frame."""
    out, at = [], 0
    while at < len(data):
        n = int.from_bytes(data[at:at + 4], "big")
        out.append((at, 4 + n + 32))
        at += 4 + n + 32
    return out


def _damage_frame(wal, frame_no: int) -> None:
    data = bytearray(wal.read_bytes())
    at, length = _frames(bytes(data))[frame_no]
    data[at + length - 40] ^= 0x01  # a byte of the payload, near its end: the frame is complete, its digest fails
    wal.write_bytes(bytes(data))


@pytest.mark.parametrize("where", ["last record of the file", "last record of a run"])
def test_wal_damage_is_a_recorded_loss_and_no_seq_is_reused(tmp_path, where):
    acks = crash_with_wal(tmp_path)  # facts only in the WAL, nothing sealed
    wal = wal_file(tmp_path)
    frames = _frames(wal.read_bytes())
    assert len(frames) == len(acks)
    if where == "last record of the file":
        victim = len(acks) - 1
    else:  # the last record of a run that is not the last record of the file
        last_of = {a["corr"]: i for i, a in enumerate(acks)}
        victim = min(i for i in last_of.values() if i < len(acks) - 1)
    lost = acks[victim]
    _damage_frame(wal, victim)

    with Ledger.open(tmp_path, options=OPTIONS) as ledger:
        (item,) = ledger.recovery.quarantined
        assert item.lost and "torn" not in item.reason, item.reason  # a complete frame: once durable, now lost
        assert (lost["corr"], lost["seq"], lost["seq"]) in item.affected
        (result,) = ledger.append([Envelope.create("system.task_completed", correlation_id=lost["corr"])])
        assert result.seq == lost["seq"] + 1  # the lost seq is never handed out again
        report = ledger.verify()
    assert (lost["corr"], lost["seq"]) in [(b.correlation_id, b.seq) for b in report.breaks]
    with Ledger.open(tmp_path, options=OPTIONS) as ledger:  # and it stays recorded after another open
        (result,) = ledger.append([Envelope.create("system.task_completed", correlation_id=lost["corr"])])
        assert result.seq == lost["seq"] + 2
    done = cli(tmp_path, "verify", lost["corr"])
    assert done.returncode == 1 and f"BROKEN correlation {lost['corr']} seq {lost['seq']}: lost" in done.stdout
    positions = [b for b in cli(tmp_path, "verify").stdout.splitlines() if "positions" in b and "missing" in b]
    assert positions == []  # the lost position is a recorded loss, not an unexplained gap


# -- readers survive damage; repair --------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_readers_and_sql_go_on_past_a_bad_segment_and_say_what_is_missing(ledger_copy, damage):
    entry = segments(ledger_copy)[1]
    path = ledger_copy / entry["file"]
    path.write_bytes(path.read_bytes()[:3000] if damage == "truncated" else b"")
    for args in (["verify"], ["runs"], ["sql", "SELECT count(*) AS n FROM envelopes"], ["replay", "run-0"]):
        done = cli(ledger_copy, *args)
        assert "Traceback" not in done.stderr, (args, done.stderr)
        assert entry["file"] in done.stderr + done.stdout, (args, done.stderr)  # it says which segment
    assert cli(ledger_copy, "verify").returncode == 1
    assert "120" in cli(ledger_copy, "sql", "SELECT count(*) AS n FROM envelopes").stdout  # the other two
    with Ledger.open(ledger_copy, readonly=True) as reader:
        assert any(entry["file"] in w and "seq" in w for w in reader.recovery.warnings)  # runs and seqs named


def test_a_manifest_that_is_not_json_is_read_around_and_repaired(ledger_copy):
    (ledger_copy / "MANIFEST").write_text("{not json")
    with pytest.raises(LedgerFormatError, match="chatsnapshot repair"):
        Ledger.open(ledger_copy)
    assert "run-0" in cli(ledger_copy, "runs").stdout  # readers go on from the segments
    done = cli(ledger_copy, "repair")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 segment(s), positions 1..180" in done.stdout
    assert list((ledger_copy / "quarantine").glob("MANIFEST.*"))  # the broken one is kept
    assert cli(ledger_copy, "verify").returncode == 0
    with Ledger.open(ledger_copy, options=OPTIONS) as ledger:  # usable for writing again
        (result,) = ledger.append([Envelope.create("system.task_completed", correlation_id="run-0")])
        assert result.seq == 46 and result.position == 181


def test_repair_of_a_readable_manifest_changes_nothing(ledger_copy):
    before = (ledger_copy / "MANIFEST").read_bytes()
    done = cli(ledger_copy, "repair")
    assert done.returncode == 0 and "nothing to repair" in done.stdout
    assert (ledger_copy / "MANIFEST").read_bytes() == before


@pytest.mark.parametrize("frame", ["last", "first"])
def test_a_damaged_length_prefix_loses_nothing_and_reuses_no_seq(tmp_path, frame):
    acks = crash_with_wal(tmp_path)
    wal = wal_file(tmp_path)
    data = bytearray(wal.read_bytes())
    at = _frames(bytes(data))[-1 if frame == "last" else 0][0]
    data[at] ^= 0x80  # the length prefix claims 2 GiB more: the frame looks torn, but it is whole
    wal.write_bytes(bytes(data))
    with Ledger.open(tmp_path, options=OPTIONS) as ledger:
        (item,) = ledger.recovery.quarantined
        assert not item.lost and "recovered" in item.reason
        assert sum(r.envelopes for r in ledger.runs()) == len(acks)  # every acknowledged record is there
        victim = acks[-1 if frame == "last" else 0]
        last_seq = max(a["seq"] for a in acks if a["corr"] == victim["corr"])
        (result,) = ledger.append([Envelope.create("system.task_completed", correlation_id=victim["corr"])])
        assert result.seq == last_seq + 1
        assert ledger.verify().ok


def test_repair_force_keeps_the_recorded_losses(tmp_path):
    acks = crash_with_wal(tmp_path)
    wal = wal_file(tmp_path)
    _damage_frame(wal, len(acks) - 1)
    Ledger.open(tmp_path, options=OPTIONS).close()  # records the loss
    before = json.loads((tmp_path / "MANIFEST").read_text())["lost"]
    assert len(before) == 1
    done = cli(tmp_path, "repair", "--force")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((tmp_path / "MANIFEST").read_text())["lost"] == before
    lost = before[0]
    with Ledger.open(tmp_path, options=OPTIONS) as ledger:
        (result,) = ledger.append([Envelope.create("system.task_completed", correlation_id=lost["correlation_id"])])
        assert result.seq == lost["seq"] + 1
