"""Third-party GenAI instrumentations, unchanged, against the receiver with span rules on.

``opentelemetry-instrumentation-openai-v2`` (the OpenTelemetry project's) and
``openinference-instrumentation-openai`` (Arize's) trace a real ``openai`` client that
talks to a loopback fake OpenAI server (tests/fake_openai.py: a tool call, then an
answer), inside an agent invocation span with a conversation id, as an agent framework
would make it (openai-v2 twice: messages on the span, and as the log-based inference
details event). Spans and logs reach a real receiver over OTLP/gRPC; the run must read as an
instrumented one: one run, no dangling cause, a transcript with the user's prompt, the
tool call and its arguments, the result and the answer, and stats with tokens and one
tool call.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from chatsnapshot.ledger.projections import causal_dag, metrics, render_transcript, transcript
from tests.fake_openai import FakeOpenAI
from tests.receiver.conftest import start_receiver

openai = pytest.importorskip("openai")
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def _otel_v2(provider: TracerProvider, logs: LoggerProvider, monkeypatch: pytest.MonkeyPatch,
             capture: str = "SPAN_ONLY") -> Callable[[], None]:
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", capture)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider, logger_provider=logs)
    return instrumentor.uninstrument


def _otel_v2_events(provider: TracerProvider, logs: LoggerProvider,
                    monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Messages as the log-based gen_ai.client.inference.operation.details event, not on the span."""
    return _otel_v2(provider, logs, monkeypatch, capture="EVENT_ONLY")


def _openinference(provider: TracerProvider, logs: LoggerProvider,
                   monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    from openinference.instrumentation.openai import OpenAIInstrumentor

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    return instrumentor.uninstrument


# How each convention marks the agent invocation and the tool execution the framework runs.
GENAI_MARKS = {
    "agent": {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner",
              "gen_ai.conversation.id": "conv-7"},
    "tool": lambda call, result: {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather",
                                  "gen_ai.tool.call.id": call.id, "gen_ai.tool.call.arguments": call.function.arguments,
                                  "gen_ai.tool.call.result": result},
}
OPENINFERENCE_MARKS = {
    "agent": {"openinference.span.kind": "AGENT", "agent.name": "planner", "session.id": "conv-7"},
    "tool": lambda call, result: {"openinference.span.kind": "TOOL", "tool.name": "get_weather",
                                  "tool_call.id": call.id, "input.value": call.function.arguments,
                                  "output.value": result},
}
CONVENTIONS = {
    "opentelemetry-openai-v2": (_otel_v2, GENAI_MARKS),
    "opentelemetry-openai-v2-events": (_otel_v2_events, GENAI_MARKS),
    "openinference-openai": (_openinference, OPENINFERENCE_MARKS),
}


@pytest.fixture
def receiver(tmp_path) -> Iterator:
    r = start_receiver(tmp_path / "ledger", promote_spans=True)
    yield r
    r.stop(grace=2)


@pytest.mark.parametrize("convention", sorted(CONVENTIONS))
def test_an_instrumented_openai_agent_reads_as_one_run_with_transcript_and_stats(receiver, monkeypatch, convention):
    instrument, marks = CONVENTIONS[convention]
    resource = Resource.create({"service.name": "openai-agent"})
    endpoint = f"127.0.0.1:{receiver.grpc_port}"
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True)))
    logs = LoggerProvider(resource=resource)
    logs.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=endpoint, insecure=True)))
    uninstrument = instrument(provider, logs, monkeypatch)
    tracer = provider.get_tracer("an-agent-framework")
    try:
        with FakeOpenAI([("get_weather", {"city": "Paris"}), "It is sunny in Paris, 21C."]) as fake:
            client = openai.OpenAI(base_url=fake.base_url, api_key="test-key")
            messages = [{"role": "system", "content": "You are a weather assistant."},
                        {"role": "user", "content": "What is the weather in Paris?"}]
            with tracer.start_as_current_span("invoke_agent planner", attributes=marks["agent"]) as agent:
                first = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
                call = first.choices[0].message.tool_calls[0]
                with tracer.start_as_current_span("execute_tool get_weather",
                                                  attributes=marks["tool"](call, "sunny, 21C")):
                    result = "sunny, 21C"
                messages += [first.choices[0].message.model_dump(exclude_none=True),
                             {"role": "tool", "tool_call_id": call.id, "content": result}]
                answer = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
                trace_id = format(agent.get_span_context().trace_id, "032x")
        assert answer.choices[0].message.content == "It is sunny in Paris, 21C."
    finally:
        uninstrument()
        provider.shutdown()
        logs.shutdown()

    ledger = receiver.ledger
    runs = ledger.runs()
    assert [(r.correlation_id, r.conversation_id) for r in runs] == [(trace_id, "conv-7")]  # one run
    facts = list(ledger.replay(trace_id))
    assert not causal_dag(facts).dangling
    text = render_transcript(transcript(facts))
    assert "What is the weather in Paris?" in text  # the user's prompt
    call_line = next(line for line in text.splitlines() if "calls get_weather" in line)
    assert call_line and json.loads(text.split(call_line, 1)[1].splitlines()[1]) == {"city": "Paris"}
    assert "get_weather (ok)" in text and "sunny, 21C" in text  # the result
    assert "It is sunny in Paris, 21C." in text  # the answer
    stats = metrics(facts).summary()
    assert stats["tool_calls"] == 1 and stats["llm_calls"] == 2
    assert stats["prompt_tokens"] > 0 and stats["completion_tokens"] > 0
    by_type = {f.event_type: f for f in facts}
    tool_call, tool_result = by_type["execution.tool_call"], by_type["execution.tool_result"]
    assert tool_result.cause_id == tool_call.event_id  # a tool result is caused by the call that asked for it
