"""Span promotion rules on real GenAI spans: AG2 1.x's own TelemetryMiddleware, scripted model."""

from __future__ import annotations

import asyncio

import ag2
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from tests.otlp import SpanRecorder
from tests.receiver.conftest import start_receiver


def get_weather(city: str) -> str:
    """Return a fake weather report."""
    return {"Paris": "sunny, 21C"}.get(city, "unknown")


async def ask_user(question: str, ctx: ag2.Context) -> str:
    """Ask the human."""
    return await ctx.input(question)


def ag2_conversation(recorder: SpanRecorder) -> None:
    from ag2.events import ToolCallEvent
    from ag2.middleware import TelemetryMiddleware
    from ag2.testing import TestConfig

    config = TestConfig(ToolCallEvent(name="get_weather", arguments='{"city": "Paris"}'),
                        ToolCallEvent(name="ask_user", arguments='{"question": "London too?"}'),
                        "Paris is sunny.")
    agent = ag2.Agent("assistant", "You are helpful.", config=config, tools=[get_weather, ask_user],
                      hitl_hook=lambda event: "no thanks")
    agent.add_middleware(TelemetryMiddleware(tracer_provider=recorder.provider, agent_name="assistant"))
    asyncio.run(agent.ask("What's the weather in Paris?"))


def test_ag2_telemetry_spans_become_execution_envelopes_with_rules_on(tmp_path):
    recorder = SpanRecorder(service="ag2-app")
    ag2_conversation(recorder)
    spans = recorder.spans()
    trace_id = format(spans[0].context.trace_id, "032x")

    for promote, expected in ((False, 0), (True, len(spans))):
        r = start_receiver(tmp_path / f"ledger-{promote}", memory=True, promote_spans=promote)
        try:
            exporter = GrpcSpanExporter(endpoint=f"127.0.0.1:{r.grpc_port}", insecure=True)
            assert exporter.export(spans) is SpanExportResult.SUCCESS
            exporter.shutdown()
            envelopes = list(r.ledger.replay(trace_id))
        finally:
            r.stop(grace=1)
        assert len(envelopes) == expected  # rules off: nothing; on: one fact per AG2 span

    types = sorted(e.event_type for e in envelopes)
    assert types == sorted(["execution.turn_completed", "execution.llm_call", "execution.llm_call",
                            "execution.llm_call", "execution.tool_result", "execution.tool_result",
                            "execution.human_input_received"])
    ids = {e.event_id for e in envelopes}
    roots = [e for e in envelopes if e.causation_id is None]
    assert [e.event_type for e in roots] == ["execution.turn_completed"]  # the invoke_agent span
    # No dangling cause as a reader sees it: a tool result names the model's tool call, which AG2's
    # spans do not record (no output messages), so it resolves to its parent span's first fact.
    assert all(e.cause_id in ids for e in envelopes if e.causation_id)
    tools = [e.payload["span"] for e in envelopes if e.event_type == "execution.tool_result"]
    assert sorted(tools) == ["execute_tool ask_user", "execute_tool get_weather"]
    assert {e.source.service for e in envelopes} == {"ag2-app"}
