"""The durable spool: facts survive a missing receiver and a killed producer, exactly once."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import chatsnapshot
from chatsnapshot.exporter.spool import Spool
from chatsnapshot.instrumentation.configuration import _install
from tests.helpers import ROOT
from tests.receiver.conftest import start_receiver
from tests.receiver.test_delivery import free_port


@pytest.fixture(autouse=True)
def no_pipeline_left_behind():
    yield
    _install(None)


def test_facts_recorded_while_no_receiver_runs_arrive_once_it_starts(tmp_path):
    port = free_port()
    pipeline = chatsnapshot.configure(endpoint=f"127.0.0.1:{port}", spool_dir=tmp_path / "spool")
    with chatsnapshot.correlation("offline-run"):
        ids = [chatsnapshot.record("system.task_completed", payload={"i": i}) for i in range(200)]
    assert pipeline.force_flush()
    assert Spool(tmp_path / "spool").pending()  # on disk, waiting
    time.sleep(0.5)
    receiver = start_receiver(tmp_path / "ledger", memory=True, grpc=("127.0.0.1", port), http=None)
    try:
        assert pipeline.delivered(20_000)
        assert [e.event_id for e in receiver.ledger.replay("offline-run")] == ids
    finally:
        pipeline.shutdown()
        receiver.stop(grace=1)
    assert Spool(tmp_path / "spool").pending() == []


PRODUCER = textwrap.dedent("""
    import sys, time
    import chatsnapshot
    pipeline = chatsnapshot.configure(endpoint=sys.argv[1], spool_dir=sys.argv[2])
    if sys.argv[3] == "record":
        with chatsnapshot.correlation("killed-run"):
            for i in range(300):
                print("ID", chatsnapshot.record("system.task_completed", payload={"i": i}))
        pipeline.force_flush()
        print("SPOOLED", flush=True)
        time.sleep(600)
    else:
        print("DELIVERED" if pipeline.delivered(30_000) else "NOT DELIVERED", flush=True)
""")


def run_producer(tmp_path, endpoint: str, mode: str) -> subprocess.Popen:
    program = tmp_path / "producer.py"
    program.write_text(PRODUCER)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, str(program), endpoint, str(tmp_path / "spool"), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)


def test_a_producer_killed_after_force_flush_is_delivered_by_the_next_one(tmp_path):
    port = free_port()
    producer = run_producer(tmp_path, f"127.0.0.1:{port}", "record")
    ids = []
    for line in producer.stdout:
        if line.startswith("ID "):
            ids.append(line.split()[1])
        if line.startswith("SPOOLED"):
            break
    producer.send_signal(signal.SIGKILL)
    producer.wait()
    assert len(ids) == 300
    receiver = start_receiver(tmp_path / "ledger", memory=True, grpc=("127.0.0.1", port), http=None)
    try:
        successor = run_producer(tmp_path, f"127.0.0.1:{port}", "deliver")
        out, err = successor.communicate(timeout=60)
        assert "DELIVERED" in out, err
        stored = [e.event_id for e in receiver.ledger.replay("killed-run")]
        assert stored == ids  # all of them, once each, in order
    finally:
        receiver.stop(grace=1)


def test_a_full_spool_under_drop_oldest_never_raises_and_logs_once(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="chatsnapshot.exporter")
    pipeline = chatsnapshot.configure(endpoint=f"127.0.0.1:{free_port()}", spool_dir=tmp_path / "spool",
                                      spool_max_bytes=64 << 10, spool_policy="drop_oldest")
    for batch in range(20):
        for i in range(20):
            chatsnapshot.record("system.task_completed", payload={"batch": batch, "i": i, "pad": "x" * 500})
        pipeline.force_flush()
    spool = Spool(tmp_path / "spool")
    assert spool.size() <= 64 << 10
    pipeline.shutdown()
    drops = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(drops) == 1 and drops[0].levelno == logging.ERROR
    outage = [r for r in caplog.records if "cannot deliver" in r.getMessage()]
    assert len(outage) == 1  # the sender's trouble: once per outage, not per attempt


def test_a_request_refused_for_good_is_set_aside_and_the_rest_flows(tmp_path):
    receiver = start_receiver(tmp_path / "ledger", memory=True, max_request_bytes=64 << 10)
    spool = Spool(tmp_path / "spool")
    from chatsnapshot.exporter.spooling import Sender
    from tests.receiver.test_bad_input import one_fact_request

    spool.put("traces", one_fact_request(**{"padding": "x" * (100 << 10)}))  # over the receiver's limit
    spool.put("traces", one_fact_request())
    sender = Sender(spool, f"127.0.0.1:{receiver.grpc_port}")
    try:
        assert sender.flush(10)
        assert len(list((tmp_path / "spool" / "rejected").glob("*.traces"))) == 1
        assert len(receiver.ledger.sql("SELECT * FROM envelopes")) == 1
    finally:
        sender.stop()
        receiver.stop(grace=1)


def test_an_oversized_batch_under_drop_oldest_does_not_wipe_the_spool(tmp_path):
    spool = Spool(tmp_path / "spool", max_bytes=64 << 10, policy="drop_oldest")
    assert spool.put("traces", b"x" * 1000) and spool.put("traces", b"y" * 1000)
    assert not spool.put("traces", b"z" * (100 << 10))
    assert [r.size for r in spool.pending()] == [1000, 1000]


def test_the_sender_survives_a_protocol_error_and_keeps_the_spool(tmp_path):
    from chatsnapshot.exporter.spooling import Sender
    from tests.receiver.test_bad_input import one_fact_request

    receiver = start_receiver(tmp_path / "ledger", memory=True)
    spool = Spool(tmp_path / "spool")
    spool.put("traces", one_fact_request())
    sender = Sender(spool, f"http://127.0.0.1:{receiver.grpc_port}", protocol="http/protobuf", timeout=2)
    try:
        time.sleep(1.5)  # HTTP/1.1 to a gRPC port: protocol errors, retried
        assert sender._thread.is_alive() and len(spool.pending()) == 1
    finally:
        sender.stop()
        receiver.stop(grace=1)
