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
from chatsnapshot.instrumentation.ag2 import AG2Instrumentor, correlation_of, restore
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


RANDOM_PER_RUN = {"created_at", "__exception__", "id", "parent_id", "task_id", "parent_tool_call_id", "task_stream"}


def strip_times(value: object) -> object:
    """An event's dict without what AG2 makes up anew in each run (times, request and task ids)."""
    if isinstance(value, dict):
        return {k: strip_times(v) for k, v in value.items() if k not in RANDOM_PER_RUN}
    if isinstance(value, list):
        return [strip_times(v) for v in value]
    return value


def test_restore_then_continue_records_what_an_uninterrupted_run_records(tmp_path):
    later = ("Anything else?", "Bye.")

    async def uninterrupted() -> list:
        assistant = agents(script(*later), ["yes"])
        reply = await assistant.ask("What's the weather in Paris?")
        reply = await reply.ask("Thanks.")
        reply = await reply.ask("Bye.")
        return [strip_times(e.to_dict()) for e in await reply.history.get_events()]

    chatsnapshot.configure(ledger=tmp_path / "whole")
    whole_history = asyncio.run(uninterrupted())
    flush()

    async def first_part() -> tuple[str, list]:
        reply = await agents(script(*later), ["yes"]).ask("What's the weather in Paris?")
        return correlation_of(reply), [strip_times(e.to_dict()) for e in await reply.history.get_events()]

    chatsnapshot.configure(ledger=tmp_path / "split")
    correlation, history_then = asyncio.run(first_part())
    flush()  # the process "restarts": nothing of the conversation is left in memory

    async def second_part() -> list:
        stream = await restore(tmp_path / "split", correlation)
        assert [strip_times(e.to_dict()) for e in await stream.history.get_events()] == history_then
        # a new agent whose model script continues where the first process stopped
        assistant = agents(TestConfig(*later, raise_tool_errors=False), [])
        reply = await assistant.ask("Thanks.", stream=stream)
        reply = await reply.ask("Bye.")
        return [strip_times(e.to_dict()) for e in await reply.history.get_events()]

    chatsnapshot.configure(ledger=tmp_path / "split")
    split_history = asyncio.run(second_part())
    flush()
    assert split_history == whole_history  # the model saw the same conversation

    whole, split = only_run(tmp_path / "whole"), only_run(tmp_path / "split")
    assert split[0].correlation_id == correlation
    whole_ids, split_ids = check_causation(whole), check_causation(split)
    assert len(split) == len(whole)  # the restored history was not recorded again
    assert [comparable(f, split_ids) for f in split] == [comparable(f, whole_ids) for f in whole]


@pytest.mark.parametrize("through", ["embedded", "receiver"])
def test_restore_right_after_the_run_sees_the_whole_run(tmp_path, through):
    """Read your writes: no flush, no wait; the restore reads the run the moment it ended."""
    from tests.receiver.conftest import start_receiver

    receiver = start_receiver(tmp_path / "served") if through == "receiver" else None
    try:
        if receiver is None:
            chatsnapshot.configure(ledger=tmp_path / "ledger")
        else:
            chatsnapshot.configure(endpoint=f"127.0.0.1:{receiver.grpc_port}", spool_dir=tmp_path / "spool")

        async def run_then_restore() -> tuple[list, list]:
            reply = await agents(script(), ["yes"]).ask("What's the weather in Paris?")
            then = [strip_times(e.to_dict()) for e in await reply.history.get_events()]
            if receiver is None:
                stream = await restore(tmp_path / "ledger", correlation_of(reply))
            else:
                stream = await restore(server=f"127.0.0.1:{receiver.grpc_port}", correlation_id=correlation_of(reply))
            return then, [strip_times(e.to_dict()) for e in await stream.history.get_events()]

        then, restored = asyncio.run(run_then_restore())
        assert restored == then and len(then) > 10
    finally:
        _install(None)
        if receiver is not None:
            receiver.stop(grace=2)


def test_another_process_restores_a_run_the_moment_its_recorder_acknowledged_it(tmp_path):
    """The recording process keeps the ledger open (its writer alive, nothing sealed yet); this one
    restores the run at once, reading the writer's WAL."""
    import subprocess
    import sys

    from tests.helpers import ROOT

    recorder = subprocess.Popen([sys.executable, "-m", "tests.instrumentation.ag2_recorder", str(tmp_path / "l")],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert recorder.stdout is not None
        _, correlation, events = recorder.stdout.readline().split()
        assert not list((tmp_path / "l" / "segments").glob("*.parquet"))  # nothing sealed: only the WAL has it
        stream = asyncio.run(restore(tmp_path / "l", correlation))
        assert len(asyncio.run(stream.history.get_events())) == int(events) > 3
    finally:
        recorder.communicate("", timeout=60)


def test_restore_upto_a_seq_forks_the_run_and_the_agents_continue_the_fork(tmp_path):
    chatsnapshot.configure(ledger=tmp_path / "ledger")

    async def two_turns() -> str:
        reply = await agents(script("Anything else?"), ["yes"]).ask("What's the weather in Paris?")
        await reply.ask("Thanks.")
        return correlation_of(reply)

    original = asyncio.run(two_turns())
    from chatsnapshot.instrumentation.configuration import current_pipeline
    from chatsnapshot.ledger import Ledger

    assert current_pipeline().force_flush()
    with Ledger.open(tmp_path / "ledger", readonly=True) as ledger:
        before = list(ledger.replay(original))
    starts = [f.seq for f in before if f.event_type == "execution.run_started"]
    at = starts[1] - 1  # the end of the first ask: the second one is what the fork does differently

    async def fork_and_continue() -> str:
        stream = await restore(tmp_path / "ledger", original, upto_seq=at)
        assistant = agents(TestConfig("Take an umbrella.", raise_tool_errors=False), [])
        reply = await assistant.ask("Should I take an umbrella?", stream=stream)
        assert correlation_of(reply) == correlation_of(stream) != original
        return correlation_of(reply)

    forked = asyncio.run(fork_and_continue())
    flush()
    runs = read_runs(tmp_path / "ledger")  # verifies every chain
    assert [(f.seq, f.event_id, f.payload) for f in runs[original]] == [(f.seq, f.event_id, f.payload) for f in before]
    fork_facts = runs[forked]
    assert fork_facts[0].event_type == "system.run_forked"
    assert fork_facts[0].payload == {"forked_from": original, "at_seq": at, "fact_id": before[at - 1].event_id}
    assert [f.payload for f in fork_facts[1:at + 1]] == [f.payload for f in before[:at]]  # the original's prefix
    new = fork_facts[at + 1:]
    assert new and new[0].event_type == "execution.run_started"  # then what the agents did next
    assert any(f.payload.get("content") == "Should I take an umbrella?" for f in new)
    assert new[0].causation_id == fork_facts[at].event_id  # caused by the last copied fact
    with Ledger.open(tmp_path / "ledger", readonly=True) as ledger:
        assert {r.correlation_id: r.forked_from for r in ledger.runs()} == {original: None, forked: original}


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
