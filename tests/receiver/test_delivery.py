"""Contracts 1 and 4 at the receiver: durable ack under kills, overload, shutdown; order-free causation."""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import threading
import time

import grpc
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from chatsnapshot.ledger import Ledger, uuid7
from chatsnapshot.proto import attributes as A
from chatsnapshot.receiver.server import Receiver
from chatsnapshot.receiver.settings import Settings
from tests.helpers import ROOT, free_port
from tests.otlp import SpanRecorder, agent_trace, fact_attributes, request_of
from tests.receiver.conftest import start_receiver
from tests.receiver.test_bad_input import raw_export


def test_causation_is_the_same_in_any_order_batching_and_duplication(tmp_path):
    rec = SpanRecorder()
    agent_trace(rec, correlation="order")
    spans = rec.spans()
    results = set()
    for n, order in enumerate(itertools.permutations(spans)):
        r = start_receiver(tmp_path / f"l{n}", http=None)
        try:
            for i, span in enumerate(order):  # three requests, each with a duplicate of the one before
                batch = [span] if i == 0 else [order[i - 1], span]
                raw_export(r.grpc_port, request_of(batch).SerializeToString())
            rows = r.ledger.sql("SELECT event_id::VARCHAR AS e, causation_id::VARCHAR AS c FROM envelopes")
            results.add(frozenset(zip(rows["e"].to_pylist(), rows["c"].to_pylist(), strict=True)))
            assert len(rows) == 7
        finally:
            r.stop(grace=1)
    assert len(results) == 1

class SlowLedger(Ledger):
    """The real ledger, deliberately slowed: every append takes at least 0.2 s more."""

    def append(self, envelopes):
        time.sleep(0.2)
        return super().append(envelopes)

def test_overload_answers_unavailable_with_retry_info_and_nothing_is_lost(tmp_path):
    settings = Settings(ledger=str(tmp_path / "ledger"), grpc=("127.0.0.1", 0), http=None, max_pending=100)
    r = Receiver(settings, ledger=SlowLedger.open(tmp_path / "ledger")).start()  # the slowed store, passed in
    results: list[SpanExportResult] = []
    try:
        def client(k: int) -> None:
            exporter = GrpcSpanExporter(endpoint=f"127.0.0.1:{r.grpc_port}", insecure=True, timeout=30)
            for batch in range(3):
                rec = SpanRecorder()
                for i in range(20):
                    agent_trace(rec, correlation=f"load-{k}-{batch}-{i}")
                results.append(exporter.export(rec.spans()))
            exporter.shutdown()

        threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [SpanExportResult.SUCCESS] * 12
        assert r.metrics.count("requests", outcome="unavailable") > 0  # the queue did fill up...
        assert len(r.ledger.sql("SELECT * FROM envelopes")) == 4 * 3 * 20 * 7  # ...and the retries got through
    finally:
        r.stop(grace=2)

# -- the receiver as a separate process -------------------------------------------------

def serve(ledger_dir, port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "chatsnapshot.cli.main", "--ledger", str(ledger_dir), "serve",
                             "--grpc", f"127.0.0.1:{port}", "--http", "off"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "receiving OTLP" in line, line + proc.stderr.read()
    return proc

def facts_request(correlation: str, n: int) -> tuple[bytes, list[str]]:
    rec = SpanRecorder()
    ids = [uuid7() for _ in range(n)]
    with rec.tracer.start_as_current_span("batch") as span:
        for event_id in ids:
            span.add_event("f", fact_attributes("system.task_completed", {"pad": "x" * 200},
                                                **{A.EVENT_ID: event_id, A.CORRELATION_ID: correlation}))
    return request_of(rec.spans()).SerializeToString(), ids

def send_until_acked(port: int, body: bytes, deadline: float) -> None:
    """A retrying client: re-send the same request until the receiver acknowledges it."""
    while True:
        try:
            raw_export(port, body)
            return
        except grpc.RpcError as e:
            if time.monotonic() > deadline:
                raise AssertionError(f"not acknowledged in time: {e.code()}") from e
            time.sleep(0.05)

def check_exactly_once(ledger_dir, acked: list[str]) -> None:
    with Ledger.open(ledger_dir) as ledger:
        rows = ledger.sql("SELECT event_id::VARCHAR AS id, count(*) AS n FROM envelopes GROUP BY 1").to_pylist()
        counts = {row["id"]: row["n"] for row in rows}
        assert [i for i in acked if counts.get(i) != 1] == []  # every acknowledged fact, exactly once
        seqs = ledger.sql("SELECT correlation_id, list(seq ORDER BY seq) AS s FROM envelopes GROUP BY 1").to_pylist()
        for row in seqs:
            assert row["s"] == list(range(1, len(row["s"]) + 1))  # gapless
        assert ledger.verify().ok

def test_sigkill_of_the_receiver_loses_no_acknowledged_fact(tmp_path):
    ledger_dir, port = tmp_path / "ledger", free_port()
    acked: list[str] = []
    proc = serve(ledger_dir, port)
    stop = threading.Event()

    def client() -> None:
        k = 0
        while not stop.is_set():
            body, ids = facts_request(f"kill-{k % 5}", 50)
            send_until_acked(port, body, time.monotonic() + 60)
            acked.extend(ids)
            k += 1

    thread = threading.Thread(target=client)
    thread.start()
    rng = random.Random(7)
    try:
        for _ in range(10):
            time.sleep(rng.uniform(0.2, 0.8))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc = serve(ledger_dir, port)
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert len(acked) > 500
    check_exactly_once(ledger_dir, acked)

def test_sigterm_under_load_exits_0_and_keeps_everything_acknowledged(tmp_path):
    ledger_dir, port = tmp_path / "ledger", free_port()
    proc = serve(ledger_dir, port)
    acked: list[str] = []
    errors: list[str] = []

    def client(k: int) -> None:
        for n in range(10_000):
            body, ids = facts_request(f"term-{k}", 50)
            try:
                raw_export(port, body)
            except grpc.RpcError as e:  # shutting down: refused, never acknowledged
                errors.append(str(e.code()))
                return
            acked.extend(ids)
            if n == 3 and k == 0:
                proc.send_signal(signal.SIGTERM)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert proc.wait(timeout=30) == 0
    assert "receiver stopped" in proc.stdout.read()
    assert errors  # the clients were cut off by the shutdown, not done before it
    wal = [f.stat().st_size for f in (ledger_dir / "wal").glob("*.wal")]
    assert sum(wal) == 0  # sealed at shutdown: nothing left in the WAL
    check_exactly_once(ledger_dir, acked)


def children(pid: int) -> list[int]:
    from pathlib import Path

    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def test_worker_processes_do_not_outlive_a_killed_receiver(tmp_path):
    port = free_port()
    proc = serve(tmp_path / "ledger", port)  # the default on 2+ cores: one worker process
    workers = children(proc.pid)
    assert workers or (os.cpu_count() or 1) < 2
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while any(os.path.exists(f"/proc/{w}") for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(os.path.exists(f"/proc/{w}/status") and "Z" not in _state(w) for w in workers)


def _state(pid: int) -> str:
    try:
        return next(line for line in open(f"/proc/{pid}/status") if line.startswith("State:"))
    except (OSError, StopIteration):
        return "Z"
