"""AG2 1.x (module ``ag2``): AG2Instrumentor records every fact kind, restore continues a conversation.

Real AG2 agents, real embedded ledger; only the model is scripted (``ag2.testing.TestConfig``).
"""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("ag2")

from ag2 import Agent, Context
from ag2.events import ModelResponse, ObserverAlert, Severity, ToolCallEvent, ToolCallsEvent, Usage
from ag2.middleware import TelemetryMiddleware
from ag2.testing import TestConfig

import chatsnapshot
from chatsnapshot.instrumentation.ag2 import AG2Instrumentor, correlation_of
from chatsnapshot.instrumentation.configuration import Pipeline, _install
from tests.instrumentation.recorded import (
    cause_of,
    check_causation,
    check_golden,
    comparable,
    only_run,
    read_runs,
    shape,
)


@pytest.fixture(autouse=True)
def instrumented():
    instrumentor = AG2Instrumentor()
    instrumentor.instrument()
    yield instrumentor
    instrumentor.uninstrument()
    _install(None)


def get_weather(city: str) -> str:
    """Return a fake weather report."""
    return {"Paris": "sunny, 21C"}.get(city, "unknown")


def flaky(n: int) -> str:
    """A tool that fails."""
    raise ValueError(f"flaky tool failed on {n}")


async def ask_user(question: str, ctx: Context) -> str:
    """Ask the human; remember the question in the context variables."""
    ctx.variables["asked"] = question
    return await ctx.input(question)


async def guard(ctx: Context) -> str:
    """A safeguard that raises an alert."""
    await ctx.send(ObserverAlert(source="guard", severity=Severity.WARNING, message="budget at 80%"))
    return "noted"


def script(*later: object) -> TestConfig:
    return TestConfig(
        ModelResponse(tool_calls=ToolCallsEvent([ToolCallEvent(name="get_weather", arguments='{"city": "Paris"}',
                                                               id="call-1")]), usage=Usage(10, 5, 15), model="m1"),
        ToolCallEvent(name="flaky", arguments='{"n": 1}', id="call-2"),
        ToolCallEvent(name="ask_user", arguments='{"question": "London too?"}', id="call-3"),
        ToolCallEvent(name="task_researcher", arguments='{"objective": "Check London"}', id="call-4"),
        ToolCallEvent(name="guard", arguments="{}", id="call-5"),
        "Paris is sunny; London has rain.",
        *later,
        raise_tool_errors=False,
    )


def agents(config: TestConfig, answers: list[str]) -> Agent:
    researcher = Agent("researcher", config=TestConfig("Finding: rain in London."))
    return Agent("assistant", "You are helpful.", config=config,
                 tools=[get_weather, flaky, ask_user, guard, researcher.as_tool(description="Delegate research")],
                 hitl_hook=lambda event: answers.pop(0))


def flush() -> None:
    from chatsnapshot.instrumentation.configuration import current_pipeline

    pipeline = current_pipeline()
    assert pipeline is not None and pipeline.force_flush()
    pipeline.shutdown()
    _install(None)


def test_a_scripted_conversation_records_every_fact_kind_in_causal_order(tmp_path):
    chatsnapshot.configure(ledger=tmp_path / "ledger")

    async def conversation() -> None:
        assistant = agents(script("Anything else?", RuntimeError("provider down")), ["yes"])
        reply = await assistant.ask("What's the weather in Paris?")
        reply = await reply.ask("Thanks.")
        with pytest.raises(RuntimeError, match="provider down"):
            await reply.ask("One more?")

    asyncio.run(conversation())
    flush()
    facts = only_run(tmp_path / "ledger")
    by_id = check_causation(facts)
    check_golden("ag2_v1.txt", [shape(f, by_id) for f in facts])

    kinds = {f.event_type for f in facts}
    assert kinds >= {"execution.run_started", "execution.run_completed", "execution.run_failed",
                     "execution.turn_started", "execution.turn_completed", "execution.message",
                     "execution.llm_call", "execution.tool_call", "execution.tool_result",
                     "execution.human_input_requested", "execution.human_input_received", "execution.handoff",
                     "execution.termination", "execution.state_change", "execution.usage", "execution.alert"}
    # the chain reads as what happened: tool result <- tool call <- LLM call <- ... <- turn <- run
    result = next(f for f in facts if f.event_type == "execution.tool_result" and f.payload["name"] == "get_weather")
    call = cause_of(result, by_id)
    assert call.event_type == "execution.tool_call" and call.payload["call_id"] == result.payload["call_id"]
    chain = [call]
    while chain[-1].causation_id:
        chain.append(cause_of(chain[-1], by_id))
    assert [f.event_type for f in chain] == ["execution.tool_call", "execution.llm_call", "execution.message",
                                              "execution.turn_started", "execution.run_started"]
    failed = next(f for f in facts if f.event_type == "execution.tool_result" and f.payload["name"] == "flaky")
    assert failed.payload["status"] == "error" and "flaky tool failed" in failed.payload["error"]["message"]
    received = next(f for f in facts if f.event_type == "execution.human_input_received")
    assert cause_of(received, by_id).event_type == "execution.human_input_requested"
    assert received.payload["content"] == "yes" and received.source.origin == "ui"
    delegated = [f for f in facts if f.event_type == "execution.handoff"]
    assert [(h.payload["kind"], h.payload["from"], h.payload["to"]) for h in delegated] == [
        ("delegate", "assistant", "researcher"), ("return", "researcher", "assistant")]
    assert any(f.source.agent == "researcher" and f.event_type == "execution.turn_started" for f in facts)
    assert [f.payload["reason"] for f in facts if f.event_type == "execution.termination"] == [
        "final_response", "final_response", "error"]
    usage = next(f for f in facts if f.event_type == "execution.usage")
    assert (usage.payload["prompt_tokens"], usage.payload["completion_tokens"], usage.payload["model"]) == (10, 5, "m1")


def test_the_application_reads_the_correlation_and_can_choose_it(tmp_path):
    chatsnapshot.configure(ledger=tmp_path / "ledger")
    seen: list[str | None] = []

    def note(text: str) -> str:
        """Record an application fact from inside a tool."""
        seen.append(chatsnapshot.instrumentation.record.current_correlation())
        chatsnapshot.record("system.task_completed", payload={"note": text})
        return "ok"

    async def conversations() -> tuple[str | None, str | None]:
        first = await Agent("a", config=TestConfig(ToolCallEvent(name="note", arguments='{"text": "x"}'), "done"),
                            tools=[note]).ask("go")
        with chatsnapshot.correlation("order-1234"):
            second = await Agent("b", config=TestConfig("fine")).ask("go")
        return correlation_of(first), correlation_of(second)

    first, second = asyncio.run(conversations())
    flush()
    runs = read_runs(tmp_path / "ledger")
    assert set(runs) == {first, "order-1234"} and second == "order-1234"
    assert seen == [first]
    app_fact = next(f for f in runs[first] if f.event_type == "system.task_completed")
    by_id = check_causation(runs[first])
    assert cause_of(app_fact, by_id).event_type == "execution.tool_call"  # attached where it happened


def test_what_the_model_was_asked_with_is_recorded_once_and_each_call_names_it(tmp_path):
    chatsnapshot.configure(ledger=tmp_path / "ledger")

    async def ask() -> None:
        await Agent("assistant", "You are helpful.", config=TestConfig(
            ToolCallEvent(name="get_weather", arguments='{"city": "Paris"}'), "sunny"), tools=[get_weather]).ask("?")

    asyncio.run(ask())
    flush()
    facts = only_run(tmp_path / "ledger")
    inputs = [f for f in facts if f.event_type == "execution.model_inputs"]
    assert len(inputs) == 1  # the same inputs for both calls: recorded once
    payload = inputs[0].payload
    assert payload["agent"] == "assistant" and payload["system_prompt"] == ["You are helpful."]
    assert [t["name"] for t in payload["tools"]] == ["get_weather"]
    assert payload["tools"][0]["description"] == "Return a fake weather report."
    assert payload["tools"][0]["parameters"]["required"] == ["city"]
    calls = [f for f in facts if f.event_type == "execution.llm_call"]
    assert len(calls) == 2 and {c.payload["inputs"] for c in calls} == {inputs[0].event_id}
    from chatsnapshot.ledger.payloads import check

    assert check("execution.model_inputs", payload) == []


def test_uninstrument_stops_recording_and_instrument_twice_records_once(tmp_path, instrumented):
    chatsnapshot.configure(ledger=tmp_path / "ledger")

    async def talk(name: str) -> str | None:
        reply = await Agent(name, config=TestConfig(ToolCallEvent(name="get_weather", arguments='{"city": "Paris"}'),
                                                    "sunny"), tools=[get_weather]).ask("weather?")
        return correlation_of(reply)

    once = asyncio.run(talk("once"))
    instrumented.instrument()  # a second call changes nothing
    AG2Instrumentor().instrument()
    twice = asyncio.run(talk("twice"))
    instrumented.uninstrument()
    asyncio.run(talk("after"))
    flush()
    runs = read_runs(tmp_path / "ledger")
    assert set(runs) == {once, twice}  # nothing after uninstrument()
    assert [f.event_type for f in runs[once]] == [f.event_type for f in runs[twice]]
    assert len({f.event_id for f in runs[twice]}) == len(runs[twice]) == len(runs[once]) == 13


class Unjsonable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr either")


def test_a_failing_exporter_or_a_hostile_payload_never_breaks_the_conversation(tmp_path, caplog):
    def hostile(ctx: Context) -> Unjsonable:
        """Returns an object that refuses JSON and repr."""
        ctx.variables["thing"] = Unjsonable()
        return Unjsonable()

    async def talk() -> str | None:
        reply = await Agent("a", config=TestConfig(ToolCallEvent(name="hostile", arguments="{}"), "still here"),
                            tools=[hostile]).ask("go")
        return reply.body

    (tmp_path / "not-a-directory").write_text("a file where the ledger should be")
    chatsnapshot.configure(ledger=tmp_path / "not-a-directory")
    assert asyncio.run(talk()) == "still here"
    _install(None)

    chatsnapshot.configure(ledger=tmp_path / "ledger")
    assert asyncio.run(talk()) == "still here"
    flush()
    facts = only_run(tmp_path / "ledger")
    check_causation(facts)
    result = next(f for f in facts if f.event_type == "execution.tool_result")
    assert result.payload["status"] == "ok" and "Unjsonable" in str(result.payload["result"])


def test_telemetry_middleware_alongside_adds_no_facts_even_with_span_rules(tmp_path):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from chatsnapshot.exporter.ledger_exporters import LedgerSpanExporter
    from chatsnapshot.receiver.span_rules import DEFAULT_RULES

    counts = {}
    for telemetry in (False, True):
        path = tmp_path / f"telemetry-{telemetry}"
        exporter = LedgerSpanExporter(path, rules=DEFAULT_RULES)  # GenAI spans would become facts too
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        _install(Pipeline("spans", str(path), tracer_provider=provider, exporter=exporter))
        assistant = agents(script(), ["yes"])
        if telemetry:
            assistant.add_middleware(TelemetryMiddleware(tracer_provider=provider, agent_name="assistant"))
        asyncio.run(assistant.ask("What's the weather in Paris?"))
        flush()
        counts[telemetry] = [comparable(f, {})[:2] for f in only_run(path)]
    assert counts[True] == counts[False]


def test_instrumentor_is_registered_for_opentelemetry_instrument():
    from importlib.metadata import entry_points

    [entry] = [e for e in entry_points(group="opentelemetry_instrumentor") if e.name == "ag2"]
    assert entry.load() is AG2Instrumentor
    assert AG2Instrumentor().instrumentation_dependencies() == ("ag2 >= 1.2, < 2",)
