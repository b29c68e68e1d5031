"""Real OTel SDK spans and log records, as the OTLP requests an exporter would send."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from chatsnapshot.proto import attributes as A


def fact_attributes(event_type: str, payload: dict | None = None, **extra: str) -> dict:
    """The attributes of a fact event with no producer id (the receiver derives it)."""
    attrs = {A.EVENT_TYPE: event_type, A.SOURCE_ORIGIN: "agent", A.SOURCE_RUNTIME: "custom",
             A.PAYLOAD: json.dumps(payload or {})}
    attrs.update(extra)
    return attrs


class SpanRecorder:
    """A tracer provider whose finished spans are kept in memory."""

    def __init__(self, service: str = "test-service") -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(resource=Resource.create({"service.name": service}))
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer("tests")

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())


def request_of(spans: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
    return encode_spans(spans)


def agent_trace(recorder: SpanRecorder, correlation: str | None = None) -> None:
    """A run span with a turn child with a tool grandchild, facts on each."""
    extra = {A.CORRELATION_ID: correlation} if correlation else {}
    t = recorder.tracer
    with t.start_as_current_span("run") as run:
        run.add_event("execution.run_started", fact_attributes("execution.run_started", {"task": "weather"}, **extra))
        with t.start_as_current_span("turn") as turn:
            turn.add_event("execution.turn_started", fact_attributes("execution.turn_started", **extra))
            turn.add_event("execution.llm_call", fact_attributes("execution.llm_call", {"model": "m"}, **extra))
            with t.start_as_current_span("execute_tool get_weather") as tool:
                tool.add_event("execution.tool_call", fact_attributes("execution.tool_call", {"city": "Paris"},
                                                                      **extra))
                tool.add_event("not-a-fact", {"k": "v"})
                tool.add_event("execution.tool_result", fact_attributes("execution.tool_result", {"temp": 21},
                                                                        **extra))
            turn.add_event("execution.turn_completed", fact_attributes("execution.turn_completed", **extra))
        run.add_event("execution.run_completed", fact_attributes("execution.run_completed", **extra))


def shuffled(items: list, seed: int) -> list:
    out = list(items)
    random.Random(seed).shuffle(out)
    return out
