"""--forward-otlp: every request goes upstream after commit; upstream trouble never costs a commit."""

from __future__ import annotations

import time

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from tests.otlp import SpanRecorder, agent_trace
from tests.receiver.conftest import start_receiver
from tests.receiver.test_delivery import free_port


def export(receiver, correlation: str) -> SpanExportResult:
    rec = SpanRecorder()
    agent_trace(rec, correlation=correlation)
    exporter = GrpcSpanExporter(endpoint=f"127.0.0.1:{receiver.grpc_port}", insecure=True)
    try:
        return exporter.export(rec.spans())
    finally:
        exporter.shutdown()


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_requests_are_forwarded_unchanged(tmp_path):
    upstream = start_receiver(tmp_path / "upstream", memory=True)
    sidecar = start_receiver(tmp_path / "sidecar", memory=True, forward_otlp=f"127.0.0.1:{upstream.grpc_port}")
    try:
        assert export(sidecar, "fw") is SpanExportResult.SUCCESS
        assert wait_for(lambda: sidecar.metrics.count("forwarded") == 1)
        here = [(e.event_id, e.causation_id, e.payload_json) for e in sidecar.ledger.replay("fw")]
        there = [(e.event_id, e.causation_id, e.payload_json) for e in upstream.ledger.replay("fw")]
        assert len(here) == 7 and here == there
    finally:
        sidecar.stop(grace=1)
        upstream.stop(grace=1)


def test_a_dead_upstream_never_blocks_a_commit(tmp_path):
    sidecar = start_receiver(tmp_path / "sidecar", memory=True, forward_otlp=f"127.0.0.1:{free_port()}")
    try:
        for k in range(3):
            assert export(sidecar, f"dead-{k}") is SpanExportResult.SUCCESS
        assert len(sidecar.ledger.sql("SELECT * FROM envelopes")) == 21
        assert wait_for(lambda: sidecar.metrics.count("forward_failures") == 3)
    finally:
        sidecar.stop(grace=1)
