"""The official OTLP exporters, through a real receiver, into the ledger."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import urllib.request

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from chatsnapshot.ledger import Ledger
from tests.otlp import SpanRecorder, agent_trace, request_of

ORDER = ["execution.run_started", "execution.turn_started", "execution.llm_call", "execution.tool_call",
         "execution.tool_result", "execution.turn_completed", "execution.run_completed"]


def test_grpc_exporter_to_replay_in_order_with_causation(receiver, tmp_path):
    rec = SpanRecorder()
    agent_trace(rec, correlation="run-grpc")
    exporter = GrpcSpanExporter(endpoint=f"127.0.0.1:{receiver.grpc_port}", insecure=True)
    assert exporter.export(rec.spans()) is SpanExportResult.SUCCESS
    exporter.shutdown()
    receiver.stop()
    out = subprocess.run([sys.executable, "-m", "chatsnapshot.cli.main", "--ledger", str(receiver.ledger.path),
                          "replay", "run-grpc", "--format", "jsonl"], capture_output=True, text=True, check=True)
    envelopes = [json.loads(line) for line in out.stdout.splitlines()]
    assert [e["event_type"] for e in envelopes] == ORDER  # a batch commits in occurrence order
    ids = {e["event_type"]: e["event_id"] for e in envelopes}
    causes = {e["event_type"]: e["causation_id"] for e in envelopes}
    assert causes["execution.tool_result"] == ids["execution.tool_call"]
    assert causes["execution.tool_call"] == ids["execution.turn_started"]
    assert causes["execution.turn_started"] == ids["execution.run_started"]
    assert causes["execution.run_started"] is None
    assert [e["seq"] for e in envelopes] == list(range(1, 8))
    assert {e["source"]["service"] for e in envelopes} == {"test-service"}


def test_http_exporter_protobuf_and_gzip(receiver):
    rec = SpanRecorder()
    agent_trace(rec, correlation="run-http")
    host, port = receiver.http_address
    exporter = HttpSpanExporter(endpoint=f"http://{host}:{port}/v1/traces", compression=Compression.Gzip)
    assert exporter.export(rec.spans()) is SpanExportResult.SUCCESS
    assert exporter.export(rec.spans()) is SpanExportResult.SUCCESS  # again: duplicates, stored once
    exporter.shutdown()
    assert [e.event_type for e in receiver.ledger.replay("run-http")] == ORDER
    assert receiver.metrics.count("duplicates") == 7


def test_otlp_json_with_hex_ids(receiver):
    trace_id, span_id = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
    body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name",
                                                             "value": {"stringValue": "json-svc"}}]},
                               "scopeSpans": [{"spans": [{
                                   "traceId": trace_id, "spanId": span_id, "name": "s",
                                   "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000001000000000",
                                   "events": [{"timeUnixNano": "1700000000500000000", "name": "system.task_scheduled",
                                               "attributes": [
                                                   {"key": "chatsnapshot.event_type",
                                                    "value": {"stringValue": "system.task_scheduled"}},
                                                   {"key": "chatsnapshot.payload",
                                                    "value": {"stringValue": "{\"task\": \"t1\"}"}}]}]}]}]}]}
    host, port = receiver.http_address
    request = urllib.request.Request(f"http://{host}:{port}/v1/traces", data=gzip.compress(json.dumps(body).encode()),
                                     headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 200 and response.headers["Content-Type"] == "application/json"
    [env] = receiver.ledger.replay(trace_id)
    assert (env.trace_id, env.span_id, env.payload, env.source.service) == (trace_id, span_id, {"task": "t1"},
                                                                            "json-svc")
    assert env.occurred_at == 1_700_000_000_500_000_000


def test_ledger_outlives_the_receiver(tmp_path):
    from tests.receiver.conftest import start_receiver

    rec = SpanRecorder()
    agent_trace(rec, correlation="run-1")
    r = start_receiver(tmp_path / "ledger")
    exporter = GrpcSpanExporter(endpoint=f"127.0.0.1:{r.grpc_port}", insecure=True)
    assert exporter.export(rec.spans()) is SpanExportResult.SUCCESS
    exporter.shutdown()
    r.stop()
    with Ledger.open(tmp_path / "ledger", readonly=True) as ledger:
        assert len(list(ledger.replay("run-1"))) == 7
        assert ledger.verify().ok


def test_promotion_in_worker_processes_gives_the_same_envelopes(tmp_path):
    import grpc
    import pytest

    from tests.receiver.conftest import start_receiver
    from tests.receiver.test_bad_input import raw_export

    rec = SpanRecorder()
    agent_trace(rec, correlation="run-w")
    results = []
    for workers in (0, 1):
        r = start_receiver(tmp_path / f"ledger-{workers}", workers=workers)
        try:
            raw_export(r.grpc_port, request_of(rec.spans()).SerializeToString())
            with pytest.raises(grpc.RpcError) as error:
                raw_export(r.grpc_port, b"\xff garbage")
            assert error.value.code() is grpc.StatusCode.INVALID_ARGUMENT  # raised in the worker, answered here
            results.append([(e.event_id, e.causation_id, e.event_type, e.payload_json, e.source)
                            for e in r.ledger.replay("run-w")])
        finally:
            r.stop(grace=1)
    assert len(results[0]) == 7 and results[0] == results[1]
