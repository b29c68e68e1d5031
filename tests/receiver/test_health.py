"""Health (gRPC and HTTP), readiness and Prometheus metrics."""

from __future__ import annotations

import urllib.error
import urllib.request

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.receiver.test_bad_input import one_fact_request, raw_export


def get(receiver, path: str) -> tuple[int, str]:
    host, port = receiver.http_address
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_grpc_health_serves_overall_and_per_service(receiver):
    with grpc.insecure_channel(f"127.0.0.1:{receiver.grpc_port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", "opentelemetry.proto.collector.trace.v1.TraceService"):
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_http_health_readiness_and_metrics(receiver):
    assert get(receiver, "/healthz") == (200, "ok\n")
    assert get(receiver, "/readyz") == (200, "ready\n")
    raw_export(receiver.grpc_port, one_fact_request())
    raw_export(receiver.grpc_port, one_fact_request())
    status, text = get(receiver, "/metrics")
    assert status == 200
    lines = text.splitlines()
    assert "chatsnapshot_envelopes_committed_total 2" in lines
    assert 'chatsnapshot_requests_total{outcome="ok",signal="traces",transport="grpc"} 2' in lines
    assert 'chatsnapshot_commit_seconds_bucket{le="+Inf"} 2' in lines
    assert "chatsnapshot_queue_depth 0" in lines
    assert get(receiver, "/nope")[0] == 404



def test_readiness_and_grpc_health_follow_a_store_fault_and_recover(tmp_path, monkeypatch):
    """A seal that the disk refuses (a real OSError from the write path) makes the receiver
    not ready; when the disk takes writes again it is ready again, by itself."""
    import errno
    import time

    from chatsnapshot.ledger import Ledger, LedgerOptions
    from chatsnapshot.ledger._engine import sealing
    from chatsnapshot.receiver.server import Receiver
    from chatsnapshot.receiver.settings import Settings

    full = {"disk": True}
    write_segment = sealing.write_segment

    def refusing(*args, **kwargs):
        if full["disk"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_segment(*args, **kwargs)

    monkeypatch.setattr(sealing, "write_segment", refusing)
    ledger = Ledger.open(tmp_path / "ledger", options=LedgerOptions(seal_interval=0.2))
    r = Receiver(Settings(ledger=str(tmp_path / "ledger"), grpc=("127.0.0.1", 0), http=("127.0.0.1", 0)),
                 ledger=ledger).start()

    def wait_for(predicate, seconds=15.0):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.1)
        return False

    def grpc_status():
        with grpc.insecure_channel(f"127.0.0.1:{r.grpc_port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            return stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status

    try:
        raw_export(r.grpc_port, one_fact_request())  # acknowledged: it is in the WAL; sealing it fails
        assert wait_for(lambda: get(r, "/readyz")[0] == 503)
        assert wait_for(lambda: grpc_status() == health_pb2.HealthCheckResponse.NOT_SERVING)
        full["disk"] = False
        assert wait_for(lambda: get(r, "/readyz") == (200, "ready\n"))
        assert wait_for(lambda: grpc_status() == health_pb2.HealthCheckResponse.SERVING)
        assert not list((tmp_path / "ledger").rglob("*.tmp"))  # failed seals left nothing behind
        assert len(r.ledger.sql("SELECT * FROM envelopes")) == 1
    finally:
        r.stop(grace=2)
