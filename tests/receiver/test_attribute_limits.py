"""Attribute amplification: a request of a million tiny attributes is answered at once, with
dropped counts, and does not hold up a small request sent meanwhile."""

from __future__ import annotations

import threading
import time

import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from chatsnapshot.proto import attributes as A
from chatsnapshot.receiver.promotion import ATTRIBUTE_LIMIT
from tests.otlp import SpanRecorder, fact_attributes, request_of
from tests.receiver.conftest import start_receiver
from tests.receiver.test_bad_input import raw_export

JUNK = 1_000_000


def _amplified(run: str) -> bytes:
    """One span whose one fact event carries its attributes, then a million more."""
    own = fact_attributes("execution.message", {"content": "hi"}, **{A.CORRELATION_ID: run})
    attributes = [common_pb2.KeyValue(key=k, value=common_pb2.AnyValue(string_value=v)) for k, v in own.items()]
    attributes += [common_pb2.KeyValue(key=f"k{i}", value=common_pb2.AnyValue(string_value="v")) for i in range(JUNK)]
    event = trace_pb2.Span.Event(time_unix_nano=1, name="execution.message", attributes=attributes)
    span = trace_pb2.Span(trace_id=b"\1" * 16, span_id=b"\2" * 8, name="amplified", start_time_unix_nano=1,
                          end_time_unix_nano=2, events=[event])
    request = trace_service_pb2.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
        scope_spans=[trace_pb2.ScopeSpans(spans=[span])])])
    return request.SerializeToString()


@pytest.mark.parametrize("workers", [0, 1])
def test_a_million_attributes_are_dropped_counted_and_hold_nobody_up(tmp_path, workers):
    receiver = start_receiver(tmp_path / "ledger", memory=True, workers=workers)
    try:
        body = _amplified("amplified")
        assert len(body) > 10 << 20
        answers: dict[str, tuple[float, bytes]] = {}

        def send(name: str, payload: bytes) -> None:
            started = time.monotonic()
            answer = raw_export(receiver.grpc_port, payload)
            answers[name] = (time.monotonic() - started, answer)

        big = threading.Thread(target=send, args=("big", body))
        big.start()
        recorder = SpanRecorder()
        with recorder.tracer.start_as_current_span("small") as span:
            span.add_event("execution.message", fact_attributes("execution.message", {"content": "small"},
                                                                **{A.CORRELATION_ID: "small"}))
        send("small", request_of(recorder.spans()).SerializeToString())
        big.join(timeout=60)
        big_seconds, big_answer = answers["big"]
        response = trace_service_pb2.ExportTraceServiceResponse.FromString(big_answer)
        assert response.partial_success.rejected_spans == 0
        assert "attribute(s) over the limit of 128" in response.partial_success.error_message
        (fact,) = receiver.ledger.replay("amplified")
        total = len(fact_attributes("execution.message", {}, **{A.CORRELATION_ID: "x"})) + JUNK
        assert fact.payload[A.DROPPED_ATTRIBUTES] == total - ATTRIBUTE_LIMIT and fact.payload["content"] == "hi"
        assert [e.payload["content"] for e in receiver.ledger.replay("small")] == ["small"]
        print(f"workers={workers}: {len(body) >> 20} MiB request answered in {big_seconds:.2f} s, "
              f"a small one meanwhile in {answers['small'][0]:.3f} s")
    finally:
        receiver.stop(grace=2)
