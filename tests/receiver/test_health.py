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

