"""The store conformance suite: contracts 1, 2, 3, 5, 7 of docs/contracts.md.

Any store that offers the ``Ledger`` verbs passes these tests. A test module
subclasses ``StoreConformance`` (the contracts that hold within one process) or,
for a store that outlives its process, ``DurableStoreConformance`` (those and
SIGKILL, a second process, a reader process), and says only how to open its store:
``FACTORY`` names a ``module:function`` that opens a writable store for a path
(the crash tests import it in another process), and ``open_reader`` opens one
read-only. Nothing here knows the on-disk format.
"""

from __future__ import annotations

import importlib
import itertools
import random
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from chatsnapshot.errors import QueryRefusedError
from chatsnapshot.ledger import AppendStatus, Envelope, Ledger, LedgerLockedError
from tests.helpers import LineCollector, make_facts, python
from tests.ledger.independent_hash import envelope_hash

GENESIS_HEX = "00" * 32  # the documented prev_hash of a correlation's first envelope


class StoreConformance:
    FACTORY: str = ""  # "module:function(path) -> writable store"

    # -- how to open the store under test ------------------------------------------

    def open(self, path: Path):
        module, _, name = self.FACTORY.partition(":")
        return getattr(importlib.import_module(module), name)(path)

    def open_reader(self, path: Path):
        raise NotImplementedError

    # -- helpers -------------------------------------------------------------------

    def all_envelopes(self, store, correlations) -> dict[str, list[Envelope]]:
        return {c: list(store.replay(c)) for c in correlations}

    def assert_consistent(self, store, expected_ids: set[str] | None = None) -> None:
        """Every chain gapless from 1, positions unique and increasing per chain,
        verify clean, and (if given) exactly ``expected_ids`` present once each."""
        seen: Counter[str] = Counter()
        positions: list[int] = []
        for run in store.runs():
            chain = list(store.replay(run.correlation_id))
            assert [e.seq for e in chain] == list(range(1, len(chain) + 1)), run.correlation_id
            assert all(a.position < b.position for a, b in itertools.pairwise(chain))
            seen.update(e.event_id for e in chain)
            positions += [e.position for e in chain]
        assert len(positions) == len(set(positions)), "a position was given twice"
        assert all(n == 1 for n in seen.values()), "an envelope is stored more than once"
        if expected_ids is not None:
            assert expected_ids <= set(seen), f"{len(expected_ids - set(seen))} acknowledged envelopes are missing"
        report = store.verify()
        assert report.ok, report

    # -- contract 2: idempotent ----------------------------------------------------

    def test_same_envelopes_twice_stored_once(self, tmp_path):
        batch = make_facts(50)
        with self.open(tmp_path) as store:
            first = store.append(batch)
            again = store.append(batch)
            assert {r.status for r in first} == {AppendStatus.STORED}
            assert {r.status for r in again} == {AppendStatus.DUPLICATE}
            assert [(r.seq, r.position) for r in again] == [(r.seq, r.position) for r in first]
            self.assert_consistent(store, {e.event_id for e in batch})
            assert sum(r.envelopes for r in store.runs()) == 50

    def test_duplicates_after_a_clean_restart(self, tmp_path):
        batch = make_facts(40)
        with self.open(tmp_path) as store:
            store.append(batch)
        with self.open(tmp_path) as store:  # after a clean close
            assert {r.status for r in store.append(batch)} == {AppendStatus.DUPLICATE}

    def test_same_id_other_content_is_a_conflict_and_original_stays(self, tmp_path):
        original = Envelope.create("system.task_scheduled", correlation_id="c", payload={"task": "a"})
        forged = Envelope.create("system.task_scheduled", correlation_id="c", payload={"task": "b"},
                                 event_id=original.event_id, occurred_at=original.occurred_at)
        with self.open(tmp_path) as store:
            store.append([original])
            (result,) = store.append([forged])
            assert result.status is AppendStatus.CONFLICT and "payload" in result.reason
        with self.open(tmp_path) as store:  # also once sealed
            (result,) = store.append([forged])
            assert result.status is AppendStatus.CONFLICT
            (stored,) = store.replay("c")
            assert stored.payload == {"task": "a"}

    def test_ids_of_any_uuid_version_are_deduplicated_once_sealed(self, tmp_path):
        import uuid

        old = [Envelope.create("system.task_scheduled", correlation_id="v4", event_id=str(uuid.uuid4()))
               for _ in range(20)]
        with self.open(tmp_path) as store:
            store.append(old)
            store.seal()
            store.append(make_facts(50))  # newer UUIDv7 facts in other segments
            store.seal()
            assert {r.status for r in store.append(old)} == {AppendStatus.DUPLICATE}
        with self.open(tmp_path) as store:
            assert {r.status for r in store.append(old)} == {AppendStatus.DUPLICATE}

    def test_a_redelivered_id_is_found_whatever_its_age_and_its_neighbours(self, tmp_path):
        import uuid

        rng = random.Random(7)

        def v7_at(millis: int) -> str:  # a UUIDv7 minted at ``millis``
            return str(uuid.UUID(f"{millis:012x}7{rng.getrandbits(12):03x}{8 | rng.getrandbits(2):x}"
                                 f"{rng.getrandbits(60):015x}"))

        now = int(time.time() * 1000)
        ages = [3600_000 * rng.randint(0, 48) for _ in range(12)]  # segments' ids minted hours apart, any order
        sealed = []
        with self.open(tmp_path) as store:
            for age in ages:
                batch = [Envelope.create("system.task_scheduled", correlation_id=f"c-{age}",
                                         event_id=v7_at(now - age - k)) for k in range(5)]
                batch.append(Envelope.create("system.task_scheduled", correlation_id="v4",
                                             event_id=str(uuid.uuid4())))
                store.append(batch)
                store.seal()
                sealed.append(batch)
            for probe in ([b[2] for b in sealed], [sealed[4][0], sealed[9][3]], [b[-1] for b in sealed[::3]]):
                new = make_facts(4)
                results = store.append([*new[:2], *probe, *new[2:]])
                assert [r.status for r in results] == (
                    [AppendStatus.STORED] * 2 + [AppendStatus.DUPLICATE] * len(probe) + [AppendStatus.STORED] * 2)
            for batch in sealed:  # each alone: a segment's newest and oldest id, the ends of its span
                for fact in (batch[0], batch[4]):
                    assert [r.status for r in store.append([fact])] == [AppendStatus.DUPLICATE]

    def test_duplicate_inside_one_batch(self, tmp_path):
        (fact,) = make_facts(1)
        with self.open(tmp_path) as store:
            results = store.append([fact, fact])
            assert [r.status for r in results] == [AppendStatus.STORED, AppendStatus.DUPLICATE]

    # -- contract 3: ordered -------------------------------------------------------

    def test_seq_gapless_and_replay_stable_under_concurrent_writers(self, tmp_path):
        batches = [make_facts(40, correlations=5, prefix="conc") for _ in range(24)]
        with self.open(tmp_path) as store:
            def work(chunk):
                for b in chunk:
                    store.append(b)
            threads = [threading.Thread(target=work, args=(batches[i::6],)) for i in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            ids = {e.event_id for b in batches for e in b}
            self.assert_consistent(store, ids)
            first = self.all_envelopes(store, [f"conc-{i}" for i in range(5)])
            assert first == self.all_envelopes(store, [f"conc-{i}" for i in range(5)])
        with self.open_reader(tmp_path) as reader:
            assert self.all_envelopes(reader, [f"conc-{i}" for i in range(5)]) == first

    def test_replay_after_seq(self, tmp_path):
        with self.open(tmp_path) as store:
            store.append(make_facts(30, correlations=1))
            assert [e.seq for e in store.replay("run-0", after_seq=25)] == [26, 27, 28, 29, 30]
            assert list(store.replay("run-0", after_seq=30)) == []
            assert list(store.replay("no-such-run")) == []

    def test_confined_sql_reads_the_views_and_nothing_else(self, tmp_path):
        """What a receiver runs for ``sql --server``: the views, sealed and not; no writing statement,
        no file outside the ledger, no setting changed back."""
        outside = tmp_path.parent / f"{tmp_path.name}-outside.csv"
        outside.write_text("secret\n1\n")
        with self.open(tmp_path / "ledger") as store:
            store.append(make_facts(10, correlations=2))
            store.seal()
            store.append(make_facts(4, correlations=2))
            answer = store.sql_confined("SELECT count(*) AS n FROM envelopes")
            assert answer.column("n").to_pylist() == [14]
            manifest, planted = tmp_path / "ledger" / "MANIFEST", tmp_path / "ledger" / "planted.csv"
            for query, refused in (("COPY envelopes TO 'x.csv'", QueryRefusedError),
                                   ("SET lock_configuration = false", QueryRefusedError),
                                   (f"EXPLAIN ANALYZE COPY (SELECT 1) TO '{manifest}' (FORMAT csv)", QueryRefusedError),
                                   (f"EXPLAIN ANALYZE COPY (SELECT 1) TO '{planted}' (FORMAT csv)", QueryRefusedError),
                                   ("EXPLAIN ANALYZE CREATE OR REPLACE VIEW envelopes AS SELECT 1 AS x",
                                    QueryRefusedError),
                                   ("SELECT repeat('x', 1000000) FROM range(100)", QueryRefusedError),  # 95 MiB
                                   (f"SELECT * FROM read_csv('{outside}')", duckdb.PermissionException)):
                with pytest.raises(refused):
                    store.sql_confined(query)
            assert store.sql(f"SELECT * FROM read_csv('{outside}')").num_rows == 1  # trusted sql reads anything
            assert not planted.exists() and (not manifest.exists() or manifest.read_text().startswith("{"))
            assert store.sql_confined("SELECT count(*) AS n FROM envelopes").column("n").to_pylist() == [14]

    # -- contract 5: chained, immutable --------------------------------------------

    def test_chain_links_and_hashes_follow_the_documented_encoding(self, tmp_path):
        with self.open(tmp_path) as store:
            store.append(make_facts(20, correlations=2))
            store.seal()
            store.append(make_facts(6, correlations=2))  # some sealed, some not
            for corr in ("run-0", "run-1"):
                chain = list(store.replay(corr))
                assert chain[0].prev_hash == GENESIS_HEX
                for prev, env in itertools.pairwise(chain):
                    assert env.prev_hash == prev.hash
                for env in chain:
                    assert envelope_hash(env) == env.hash

    # -- contract 7: one writer, many readers --------------------------------------

    def test_a_second_writer_is_refused_and_readers_are_not(self, tmp_path):
        with self.open(tmp_path) as store:
            store.append(make_facts(3, correlations=1))
            with pytest.raises(LedgerLockedError):
                self.open(tmp_path)
            with self.open_reader(tmp_path) as reader:
                assert [e.seq for e in reader.replay("run-0")] == [1, 2, 3]


class DurableStoreConformance(StoreConformance):
    """Everything above, and the contracts that need more than one process: a store that
    outlives its process (SIGKILL at random moments), one writer across processes, a
    reader process."""

    def crash_writer(self, path: Path, mode: str, seed: int = 0):
        return python("-m", "tests.ledger.writer_process", self.FACTORY, str(path), mode, str(seed))

    # -- contract 1: durable ack ---------------------------------------------------

    def test_acknowledged_is_durable_without_close(self, tmp_path):
        child = self.crash_writer(tmp_path, "crash")
        out, err = child.communicate(timeout=60)
        acks = [line for line in out.splitlines() if line.startswith("ACK ")]
        assert child.returncode == 0 and acks, err
        with self.open(tmp_path) as store:
            self.assert_consistent(store, {eval_ack(a)["id"] for a in acks})

    def test_sigkill_at_random_moments_loses_nothing_acknowledged(self, tmp_path):
        acked: set[str] = set()
        rnd = random.Random(20261124)
        for round_ in range(10):
            child = self.crash_writer(tmp_path, "loop", seed=round_)
            lines = LineCollector(child)
            assert lines.ready.wait(60), child.stderr.read() if child.poll() is not None else "writer never started"
            time.sleep(rnd.uniform(0.05, 1.2))
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
            lines.join()
            new = [a for a in lines.acks() if a["status"] == "stored"]
            acked.update(a["id"] for a in new)
            with self.open(tmp_path) as store:
                self.assert_consistent(store, acked)
        assert len(acked) > 100, "the writer acknowledged too little for the test to mean anything"

    # -- contract 2: idempotent, across a crash ------------------------------------

    def test_duplicates_after_a_crash(self, tmp_path):
        batch = make_facts(40)
        with self.open(tmp_path) as store:
            store.append(batch)
        child = self.crash_writer(tmp_path, "crash", seed=5)  # facts left only in a WAL
        out, _ = child.communicate(timeout=60)
        crashed = [eval_ack(a) for a in out.splitlines() if a.startswith("ACK ")]
        with self.open(tmp_path) as store:
            from_crash = [e for run in store.runs() for e in store.replay(run.correlation_id)
                          if e.event_id in {a["id"] for a in crashed}]
            assert len(from_crash) == len(crashed)
            assert {r.status for r in store.append(from_crash)} == {AppendStatus.DUPLICATE}
            assert {r.status for r in store.append(batch)} == {AppendStatus.DUPLICATE}
            self.assert_consistent(store)

    # -- contract 7: one writer, many readers, across processes --------------------

    def test_second_writer_process_is_refused_naming_the_holder(self, tmp_path):
        holder = self.crash_writer(tmp_path, "hold")
        lines = LineCollector(holder)
        try:
            assert lines.ready.wait(60)
            pid = lines.lines[0].split()[1]
            with pytest.raises(LedgerLockedError) as e:
                self.open(tmp_path)
            assert f"pid {pid}" in str(e.value) and "read-only" in str(e.value)
        finally:
            holder.kill()
            holder.wait()

    def test_reader_process_replays_while_writer_appends(self, tmp_path):
        writer = self.crash_writer(tmp_path, "loop", seed=1)
        lines = LineCollector(writer)
        try:
            assert lines.ready.wait(60)
            seen_lengths = []
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and len(set(seen_lengths)) < 3:
                with self.open_reader(tmp_path) as reader:
                    chain = list(reader.replay("crash1-0"))
                    assert [e.seq for e in chain] == list(range(1, len(chain) + 1))
                    seen_lengths.append(len(chain))
                time.sleep(0.2)
            assert len(set(seen_lengths)) >= 3, f"the reader never saw the chain grow: {seen_lengths}"
        finally:
            writer.kill()
            writer.wait()


def eval_ack(line: str) -> dict:
    import json

    return json.loads(line[4:])


def open_default(path: Path) -> Ledger:
    """The factory for the WAL + Parquet store, with quick seals so that crash
    tests also land in the middle of sealing and compaction."""
    from chatsnapshot.ledger import LedgerOptions

    return Ledger.open(path, options=LedgerOptions(seal_interval=0.05, seal_max_bytes=32 << 10,
                                                   compact_target_rows=2048, compact_trigger=3,
                                                   row_group_rows=64))
