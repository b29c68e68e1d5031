"""Read your writes: whatever a writer acknowledged is readable at once, from another handle in
the same process and from another process, before anything is sealed (the reader reads the
writer's WAL beyond the sealed segments)."""

from __future__ import annotations

import json
import time

from chatsnapshot.ledger import Ledger, LedgerOptions, LedgerReader
from tests.helpers import ROOT, LineCollector, make_facts, python


def open_unsealed(path) -> Ledger:
    """A writer that does not seal during the test: everything it holds is in its WAL."""
    return Ledger.open(path, options=LedgerOptions(seal_interval=3600))


def visible(path, ids: list[str]) -> set[str]:
    with LedgerReader.open(path) as reader:
        found = reader.sql("SELECT event_id::VARCHAR AS id FROM envelopes").column(0).to_pylist()
        assert reader.verify().ok
    return set(ids) & set(found)


def test_another_handle_in_the_same_process_reads_what_was_just_appended(tmp_path):
    with open_unsealed(tmp_path / "ledger") as writer:
        facts = make_facts(300, correlations=3)
        writer.append(facts)
        with Ledger.open(tmp_path / "ledger", readonly=True) as reader:  # no seal, no wait
            assert [e.event_id for e in reader.replay("run-1")] == [f.event_id for f in facts[1::3]]
            assert reader.last_position == 300
        assert writer.sql("SELECT count(*) AS n FROM envelopes").to_pylist() == [{"n": 300}]
        assert not list((tmp_path / "ledger" / "segments").glob("*.parquet"))  # nothing was sealed


def test_another_process_reads_every_acknowledged_fact_at_once(tmp_path):
    ledger = tmp_path / "ledger"
    proc = python("-m", "tests.ledger.writer_process", "tests.ledger.test_read_your_writes:open_unsealed",
                  str(ledger), "loop", cwd=ROOT)
    lines = LineCollector(proc)
    try:
        assert lines.ready.wait(30)
        checks = 0
        deadline = time.monotonic() + 60  # five checks while the writer goes on; a loaded machine takes longer
        while checks < 5 and time.monotonic() < deadline:
            acked = [json.loads(line[4:])["id"] for line in list(lines.lines) if line.startswith("ACK ")]
            if acked:
                assert visible(ledger, acked) == set(acked)  # every acknowledged fact, the moment it was
                checks += 1
            time.sleep(0.1)
        assert checks >= 5
        assert not list((ledger / "segments").glob("*.parquet"))  # all of it read from the running writer's WAL
        with LedgerReader.open(ledger) as reader:  # a reader open while the writer dies keeps what was acked
            proc.kill()
            proc.wait()
            lines.join()
            acked = [json.loads(line[4:])["id"] for line in lines.lines if line.startswith("ACK ")]
            found = set(reader.sql("SELECT event_id::VARCHAR AS id FROM envelopes").column(0).to_pylist())
            assert set(acked) <= found
    finally:
        proc.kill()
        proc.wait()


def test_a_frame_written_but_not_synced_stays_unseen(tmp_path, monkeypatch):
    """Readers read the WAL only up to the writer's durable mark: a batch whose fsync failed (never
    acknowledged, rolled back on the next append) is never seen, not even for a moment."""
    import os

    from chatsnapshot.errors import StoreUnavailableError

    with open_unsealed(tmp_path / "ledger") as writer:
        kept = make_facts(20, correlations=2, prefix="kept")
        writer.append(kept)
        real_sync = os.fdatasync

        def refuse(fd: int) -> None:
            raise OSError(5, "Input/output error")

        monkeypatch.setattr(os, "fdatasync", refuse)
        failed = make_facts(20, correlations=2, prefix="failed")
        try:
            writer.append(failed)
        except StoreUnavailableError:
            pass
        else:
            raise AssertionError("an append whose fsync failed was acknowledged")
        wal_bytes = sum(p.stat().st_size for p in (tmp_path / "ledger" / "wal").glob("*.wal"))
        assert wal_bytes > 0 and visible(tmp_path / "ledger", [f.event_id for f in failed]) == set()
        assert visible(tmp_path / "ledger", [f.event_id for f in kept]) == {f.event_id for f in kept}
        monkeypatch.setattr(os, "fdatasync", real_sync)
        later = make_facts(20, correlations=2, prefix="later")
        writer.append(later)  # rolls the failed frames back first, then commits these
        ids = [f.event_id for f in kept + failed + later]
        assert visible(tmp_path / "ledger", ids) == {f.event_id for f in kept + later}
