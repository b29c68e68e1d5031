"""Contract 6: bad input is answered, never swallowed, never fatal."""

from __future__ import annotations

import gzip
import json
import logging
import urllib.error
import urllib.request

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk.trace.export import SpanExportResult

from chatsnapshot.proto import attributes as A
from tests.otlp import SpanRecorder, agent_trace, fact_attributes, request_of
from tests.receiver.conftest import start_receiver

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


@pytest.fixture
def receiver(tmp_path):
    """Bad input is about status codes and dead letters, not the disk: a memory store."""
    r = start_receiver(tmp_path / "ledger", memory=True)
    yield r
    r.stop(grace=2)


def raw_export(port: int, body: bytes, **kw):
    """Send ``body`` as-is to TraceService/Export; the response bytes."""
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", -1)]) as channel:
        call = channel.unary_unary(EXPORT, request_serializer=None, response_deserializer=None)
        return call(body, timeout=10, **kw)


def export_error(port: int, body: bytes, **kw) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        raw_export(port, body, **kw)
    return info.value


def one_fact_request(**attrs) -> bytes:
    rec = SpanRecorder()
    with rec.tracer.start_as_current_span("s") as span:
        span.add_event("e", {**fact_attributes("system.task_scheduled", {"n": 1}), **attrs})
    return request_of(rec.spans()).SerializeToString()


def test_garbage_is_invalid_argument_and_the_server_goes_on(receiver):
    error = export_error(receiver.grpc_port, b"\xff\x00 this is not protobuf \x13\x37")
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid OTLP traces request" in error.details()
    raw_export(receiver.grpc_port, one_fact_request())  # still serving


def test_garbage_over_http_is_400(receiver):
    host, port = receiver.http_address
    request = urllib.request.Request(f"http://{host}:{port}/v1/traces", data=b"\xff\x00garbage",
                                     headers={"Content-Type": "application/x-protobuf"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request)
    assert info.value.code == 400
    assert "not a valid OTLP" in status_pb2.Status.FromString(info.value.read()).message
    request = urllib.request.Request(f"http://{host}:{port}/v1/logs", data=b"{not json",
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request)
    assert info.value.code == 400 and "not JSON" in json.loads(info.value.read())["message"]


def test_over_the_limit_and_a_gzip_bomb_are_resource_exhausted(tmp_path):
    r = start_receiver(tmp_path / "ledger", memory=True, max_request_bytes=64 << 10)
    try:
        big = one_fact_request(**{"padding": "x" * (100 << 10)})
        assert export_error(r.grpc_port, big).code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        # 8 MiB of zeros inside a valid request compress to ~8 KiB: under the limit on the wire, not after.
        bomb = one_fact_request(**{"padding": "\0" * (8 << 20)})
        error = export_error(r.grpc_port, bomb, compression=grpc.Compression.Gzip)
        assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        host, port = r.http_address
        compressed = gzip.compress(bomb)
        assert len(compressed) < 64 << 10
        request = urllib.request.Request(f"http://{host}:{port}/v1/traces", data=compressed,
                                         headers={"Content-Type": "application/x-protobuf",
                                                  "Content-Encoding": "gzip"})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request)
        assert info.value.code == 413
        raw_export(r.grpc_port, one_fact_request())  # and it keeps serving
        assert len(r.ledger.sql("SELECT * FROM envelopes")) == 1
    finally:
        r.stop(grace=2)


def test_invalid_utf8_is_replaced_and_flagged(receiver):
    body = one_fact_request(**{A.CORRELATION_ID: "utf8-run", A.PAYLOAD: '{"text": "caf\\u00e9 ABC"}'})
    body = body.replace(b"ABC", b"A\xffC")  # inside the payload string: invalid UTF-8 on the wire
    raw_export(receiver.grpc_port, body)
    [env] = receiver.ledger.replay("utf8-run")
    assert env.payload == {"text": "café A\ufffdC", A.INVALID_UTF8_FLAG: True}


def test_an_invalid_fact_is_partial_success_and_a_dead_letter(receiver):
    rec = SpanRecorder()
    with rec.tracer.start_as_current_span("s") as span:
        span.add_event("ok", fact_attributes("system.task_scheduled", **{A.CORRELATION_ID: "dl-run"}))
        span.add_event("bad", fact_attributes("Not A Type", **{A.CORRELATION_ID: "dl-run"}))
    response = trace_service_pb2.ExportTraceServiceResponse.FromString(
        raw_export(receiver.grpc_port, request_of(rec.spans()).SerializeToString()))
    assert response.partial_success.rejected_spans == 1
    assert "dead_letters" in response.partial_success.error_message
    assert [e.event_type for e in receiver.ledger.replay("dl-run")] == ["system.task_scheduled"]
    rows = receiver.ledger.sql("SELECT reason, field, event_type, correlation_id FROM dead_letters").to_pylist()
    assert len(rows) == 1
    assert rows[0]["field"] == "event_type" and rows[0]["event_type"] == "Not A Type"
    assert rows[0]["correlation_id"] == "dl-run" and "known namespace" in rows[0]["reason"]


def test_a_conflicting_fact_is_rejected_and_the_original_stays(receiver):
    event_id = "0190a5c4-0000-7000-8000-0000000000aa"
    raw_export(receiver.grpc_port, one_fact_request(**{A.EVENT_ID: event_id, A.CORRELATION_ID: "c"}))
    response = trace_service_pb2.ExportTraceServiceResponse.FromString(raw_export(
        receiver.grpc_port, one_fact_request(**{A.EVENT_ID: event_id, A.CORRELATION_ID: "c",
                                                A.PAYLOAD: '{"other": true}'})))
    assert response.partial_success.rejected_spans == 1
    [env] = receiver.ledger.replay("c")
    assert env.payload == {"n": 1}
    [row] = receiver.ledger.sql("SELECT reason FROM dead_letters").to_pylist()
    assert row["reason"].startswith("conflict")


def test_metrics_are_accepted_and_discarded(receiver):
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2

    with grpc.insecure_channel(f"127.0.0.1:{receiver.grpc_port}") as channel:
        call = channel.unary_unary("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
                                   request_serializer=None, response_deserializer=None)
        call(metrics_service_pb2.ExportMetricsServiceRequest().SerializeToString(), timeout=5)


def test_a_bad_token_is_unauthenticated_and_never_logged(tmp_path, caplog):
    secret, other = "s3cret-token-value", "rotated-token-value"
    r = start_receiver(tmp_path / "ledger", memory=True, tokens=(secret, other))
    caplog.set_level(logging.DEBUG)
    try:
        wrong = f"Bearer {secret}x"
        error = export_error(r.grpc_port, one_fact_request(), metadata=(("authorization", wrong),))
        assert error.code() is grpc.StatusCode.UNAUTHENTICATED
        assert secret not in error.details()
        raw_export(r.grpc_port, one_fact_request(), metadata=(("authorization", f"Bearer {other}"),))
        host, port = r.http_address
        exporter = HttpSpanExporter(endpoint=f"http://{host}:{port}/v1/traces", headers={"authorization": wrong})
        rec = SpanRecorder()
        agent_trace(rec)
        assert exporter.export(rec.spans()) is SpanExportResult.FAILURE
        exporter.shutdown()
        good = GrpcSpanExporter(endpoint=f"127.0.0.1:{r.grpc_port}", insecure=True,
                                headers={"authorization": f"Bearer {secret}"})
        assert good.export(rec.spans()) is SpanExportResult.SUCCESS
        good.shutdown()
    finally:
        r.stop(grace=2)
    assert r.metrics.count("requests", outcome="unauthenticated") == 2
    assert secret not in caplog.text and other not in caplog.text


def test_retry_info_is_in_both_trailers():
    from chatsnapshot.receiver.status import retry_trailers

    trailers = dict(retry_trailers("busy", 1.5))
    info = error_details_pb2.RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"])
    assert (info.retry_delay.seconds, info.retry_delay.nanos) == (1, 500_000_000)
    status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    unpacked = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(unpacked) and unpacked == info


def test_invalid_utf8_in_otlp_json_lone_surrogates_is_replaced_and_flagged(receiver):
    body = ('{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",'
            '"spanId":"eee19b7ec3c1b174","name":"s","events":[{"timeUnixNano":"1700000000000000000","name":"e",'
            '"attributes":[{"key":"chatsnapshot.event_type","value":{"stringValue":"system.error"}},'
            '{"key":"chatsnapshot.correlation_id","value":{"stringValue":"json-utf8"}},'
            '{"key":"chatsnapshot.payload","value":{"stringValue":"{\\"m\\": \\"cut \\ud83d\\"}"}}]}]}]}]}]}')
    host, port = receiver.http_address
    request = urllib.request.Request(f"http://{host}:{port}/v1/traces", data=body.encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
    [env] = receiver.ledger.replay("json-utf8")
    assert env.payload[A.INVALID_UTF8_FLAG] is True and env.payload["m"].startswith("cut \ufffd")


def test_conflicts_within_one_request_each_keep_their_own_content(receiver):
    event_id = "0190a5c4-0000-7000-8000-0000000000bb"
    rec = SpanRecorder()
    with rec.tracer.start_as_current_span("s") as span:
        for n in (1, 2, 3):
            span.add_event("e", fact_attributes("system.task_scheduled", {"n": n},
                                                **{A.EVENT_ID: event_id, A.CORRELATION_ID: "inbatch"}))
    raw_export(receiver.grpc_port, request_of(rec.spans()).SerializeToString())
    [env] = receiver.ledger.replay("inbatch")
    assert env.payload == {"n": 1}
    rows = receiver.ledger.sql("SELECT attributes FROM dead_letters").to_pylist()
    assert sorted(json.loads(r["attributes"])["payload"]["n"] for r in rows) == [2, 3]


def test_a_dead_promotion_worker_is_unavailable_then_replaced(tmp_path):
    import os
    import signal

    r = start_receiver(tmp_path / "ledger", memory=True, workers=1)
    try:
        raw_export(r.grpc_port, one_fact_request())
        for pid in r.pool.pids:
            os.kill(pid, signal.SIGKILL)
        error = export_error(r.grpc_port, one_fact_request())
        assert error.code() is grpc.StatusCode.UNAVAILABLE  # retryable: nothing was committed
        raw_export(r.grpc_port, one_fact_request())  # a new worker took over
        assert len(r.ledger.sql("SELECT * FROM envelopes")) == 2
    finally:
        r.stop(grace=1)


def test_an_empty_correlation_id_is_a_rejection_not_the_trace_id(receiver):
    raw_export(receiver.grpc_port, one_fact_request(**{A.CORRELATION_ID: ""}))
    assert len(receiver.ledger.sql("SELECT * FROM envelopes")) == 0
    [row] = receiver.ledger.sql("SELECT reason, field FROM dead_letters").to_pylist()
    assert row["field"] == "correlation_id" and "is empty" in row["reason"]


def test_a_replacement_in_the_agent_name_from_the_span_is_flagged_too(receiver):
    rec = SpanRecorder()
    with rec.tracer.start_as_current_span("s", attributes={A.GEN_AI_AGENT_NAME: "plannerXYZ"}) as span:
        span.add_event("e", {**fact_attributes("system.task_scheduled"), A.CORRELATION_ID: "utf8-agent"})
    body = request_of(rec.spans()).SerializeToString()
    raw_export(receiver.grpc_port, body.replace(b"XYZ", b"X\xffZ"))  # only the span's attribute holds it
    [env] = receiver.ledger.replay("utf8-agent")
    assert env.source.agent == "plannerX\ufffdZ" and env.payload.get(A.INVALID_UTF8_FLAG) is True


def test_a_token_on_the_command_line_is_refused_without_echoing_it(tmp_path):
    import subprocess
    import sys

    from tests.helpers import ROOT

    secret = "s3cr3t-do-not-print"
    done = subprocess.run([sys.executable, "-m", "chatsnapshot.cli.main", "--ledger", str(tmp_path / "l"), "serve",
                           "--token", secret], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2 and "--token-file" in done.stderr
    assert secret not in done.stdout + done.stderr
    assert not (tmp_path / "l").exists()  # nothing was created
