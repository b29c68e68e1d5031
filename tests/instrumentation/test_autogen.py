"""AG2 0.x (module ``autogen``): AutogenInstrumentor records every fact kind, restore continues a chat.

Runs in the 0.x environment that ``make test`` builds (``.venv-ag2-0``); skipped where ``autogen``
is not installed. Real agents, group chats and patterns, real embedded ledger; only the model is
scripted, as a ModelClient (``ScriptedClient``).
"""


import json
from typing import Any

import pytest

pytest.importorskip("autogen")

from autogen import ConversableAgent, GroupChat, GroupChatManager, register_function
from autogen.agentchat import initiate_group_chat
from autogen.agentchat.group import (
    AgentTarget,
    ContextVariables,
    OnCondition,
    ReplyResult,
    StringLLMCondition,
    TerminateTarget,
)
from autogen.agentchat.group.patterns import DefaultPattern
from autogen.events.agent_events import InputRequestEvent

import chatsnapshot
from chatsnapshot.instrumentation.autogen import AutogenInstrumentor, correlation_of, restore
from chatsnapshot.instrumentation.configuration import _install
from tests.instrumentation.autogen_scripted import LLM, ScriptedClient, flush, pair
from tests.instrumentation.recorded import (
    cause_of,
    check_causation,
    check_golden,
    comparable,
    configured,
    only_run,
    read_runs,
    shape,
)

pytestmark = pytest.mark.usefixtures("autogen_instrumented")


def two_agent_run(answers: list[str]) -> tuple[ConversableAgent, ConversableAgent]:
    assistant, user = pair()
    response = user.run_iter(assistant, message="Weather in Paris and Atlantis?", max_turns=10)
    for event in response:
        if isinstance(event, InputRequestEvent):
            event.content.respond(answers.pop(0))
    return assistant, user


def group_run(method: Any) -> None:
    planner = ConversableAgent("planner", llm_config=LLM, human_input_mode="NEVER")
    writer = ConversableAgent("writer", llm_config=LLM, human_input_mode="NEVER")
    user = ConversableAgent("user", llm_config=False, human_input_mode="NEVER", code_execution_config=False)
    chat = GroupChat(agents=[user, planner, writer], messages=[], max_round=3, speaker_selection_method=method)
    manager = GroupChatManager(groupchat=chat, llm_config=LLM,
                               is_termination_msg=lambda m: "TERMINATE" in (m.get("content") or ""))
    user.initiate_chat(manager, message="Write a haiku about rain.", max_turns=1)


def pattern_run() -> None:
    specialist = ConversableAgent("specialist", llm_config=LLM)
    reviewer = ConversableAgent("reviewer", llm_config=LLM)

    def route(topic: str, context_variables: ContextVariables) -> ReplyResult:
        """Route the request to a specialist."""
        context_variables["topic"] = topic
        return ReplyResult(message=f"routed {topic}", target=AgentTarget(specialist),
                           context_variables=context_variables)

    triage = ConversableAgent("triage", llm_config=LLM, functions=[route])
    specialist.handoffs.add_llm_conditions(
        [OnCondition(target=AgentTarget(reviewer), condition=StringLLMCondition("Needs review"))])
    reviewer.handoffs.set_after_work(TerminateTarget())
    pattern = DefaultPattern(initial_agent=triage, agents=[triage, specialist, reviewer],
                             context_variables=ContextVariables(data={"topic": None}),
                             group_after_work=TerminateTarget())
    initiate_group_chat(pattern=pattern, messages="I want a refund.", max_rounds=8)


def test_a_scripted_two_agent_chat_records_every_fact_kind_in_causal_order(tmp_path):
    chatsnapshot.configure(ledger=tmp_path / "ledger")
    ScriptedClient.SCRIPT[:] = [
        {"tool_calls": [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Atlantis"})]},
        "Paris is sunny; Atlantis is unknown. TERMINATE",
        "You're welcome. TERMINATE",
    ]
    two_agent_run(["Thanks!", "exit"])
    flush()
    facts = only_run(tmp_path / "ledger")
    by_id = check_causation(facts)
    check_golden("autogen_two_agents.txt", [shape(f, by_id) for f in facts])
    results = [f for f in facts if f.event_type == "execution.tool_result"]
    assert [r.payload["status"] for r in results] == ["ok", "error"]
    assert "no such city" in results[1].payload["result"]
    assert all(cause_of(r, by_id).event_type == "execution.tool_call" for r in results)
    assert cause_of(cause_of(results[0], by_id), by_id).event_type == "execution.llm_call"
    received = [f.payload["content"] for f in facts if f.event_type == "execution.human_input_received"]
    assert received == ["Thanks!", "exit"]
    [termination] = [f for f in facts if f.event_type == "execution.termination"]
    assert termination.payload["reason"].startswith("Termination message condition on agent 'user' met")
    assert {f.event_type for f in facts} >= {"execution.run_started", "execution.run_completed",
                                            "execution.usage", "execution.message", "execution.turn_started"}


@pytest.mark.parametrize("method", ["round_robin", "random", "auto", "manual", "callable"])
def test_group_chats_record_speaker_selection_for_every_method(tmp_path, method, monkeypatch):
    chatsnapshot.configure(ledger=tmp_path / "ledger")
    ScriptedClient.SCRIPT[:] = ["Plan: research then write.", "Draft written. TERMINATE"]
    if method == "auto":  # the selector asks the model for a name first
        ScriptedClient.SCRIPT[:] = ["planner", "Plan: research then write.", "writer", "Draft written. TERMINATE"]
    if method == "manual":
        monkeypatch.setattr("autogen.io.console.IOConsole.input", lambda self, prompt="", **kw: "")

    def by_turn(last_speaker: Any, chat: GroupChat) -> Any:
        return chat.agents[(chat.agents.index(last_speaker) + 1) % len(chat.agents)]

    group_run(by_turn if method == "callable" else method)
    flush()
    facts = only_run(tmp_path / "ledger")
    check_causation(facts)
    selected = [f.payload for f in facts if f.event_type == "execution.speaker_selected"]
    assert selected and {s["method"] for s in selected} == {"by_turn" if method == "callable" else method}
    assert not any(f.source.agent in ("checking_agent", "speaker_selection_agent") for f in facts)
    if method in ("round_robin", "callable"):
        assert [s["selected"] for s in selected] == ["planner", "writer"]
    assert any(f.event_type == "execution.termination" for f in facts)


def test_a_pattern_chat_records_handoffs_context_changes_and_termination(tmp_path):
    chatsnapshot.configure(ledger=tmp_path / "ledger")
    ScriptedClient.SCRIPT[:] = [
        {"tool_calls": [("route", {"topic": "billing"})]},
        {"tool_calls": [("transfer_to_reviewer_1", {})]},
        "Reviewed: refund approved.",
    ]
    pattern_run()
    flush()
    facts = only_run(tmp_path / "ledger")
    by_id = check_causation(facts)
    check_golden("autogen_pattern.txt", [shape(f, by_id) for f in facts])
    handoffs = [(f.payload["kind"], f.payload["from"]) for f in facts if f.event_type == "execution.handoff"]
    assert ("reply_result", "_Group_Tool_Executor") in handoffs or any(k == "reply_result" for k, _ in handoffs)
    assert any(k == "on_condition" for k, _ in handoffs) and any(k == "after_work" for k, _ in handoffs)
    changes = [f.payload for f in facts if f.event_type == "execution.state_change"]
    assert any(c["changed"].get("topic") == "billing" for c in changes)
    assert any(f.event_type == "execution.termination" for f in facts)


def test_restore_then_continue_records_what_an_uninterrupted_chat_records(tmp_path):
    first = [{"tool_calls": [("get_weather", {"city": "Paris"})]}, "Sunny in Paris. TERMINATE"]
    second = [{"tool_calls": [("get_weather", {"city": "London"})]}, "Rain in London. TERMINATE"]

    def chat(assistant, user, message, clear):
        user.initiate_chat(assistant, message=message, max_turns=3, clear_history=clear)

    chatsnapshot.configure(ledger=tmp_path / "whole")
    ScriptedClient.SCRIPT[:] = first + second
    assistant, user = pair()
    user.human_input_mode = "NEVER"
    chat(assistant, user, "Paris?", True)
    chat(assistant, user, "And London?", False)
    whole_history = user.chat_messages[assistant]
    flush()

    chatsnapshot.configure(ledger=tmp_path / "split")
    ScriptedClient.SCRIPT[:] = list(first)
    assistant, user = pair()
    user.human_input_mode = "NEVER"
    chat(assistant, user, "Paris?", True)
    correlation = correlation_of(user)
    flush()

    chatsnapshot.configure(ledger=tmp_path / "split")  # a new process: new agents, state from the ledger
    ScriptedClient.SCRIPT[:] = list(second)
    assistant, user = pair()
    user.human_input_mode = "NEVER"
    restored = restore(tmp_path / "split", correlation, [assistant, user])
    assert restored.correlation_id == correlation
    assert [m["role"] for m in assistant.chat_messages[user]] == ["user", "assistant", "tool", "assistant"]
    chat(assistant, user, "And London?", False)
    flush()
    assert user.chat_messages[assistant] == whole_history  # the model saw the same conversation

    whole, split = only_run(tmp_path / "whole"), only_run(tmp_path / "split")
    assert split[0].correlation_id == correlation
    whole_ids, split_ids = check_causation(whole), check_causation(split)
    assert len(split) == len(whole)  # the restored messages were not recorded again
    assert [comparable(f, split_ids) for f in split] == [comparable(f, whole_ids) for f in whole]


@pytest.mark.parametrize("through", ["embedded", "receiver"])
def test_restore_right_after_the_chat_sees_the_whole_chat(tmp_path, through):
    """Read your writes: no flush, no wait; the restore reads the chat the moment it ended."""
    with configured(through, tmp_path) as server:
        ScriptedClient.SCRIPT[:] = [{"tool_calls": [("get_weather", {"city": "Paris"})]}, "Sunny. TERMINATE"]
        assistant, user = pair()
        user.human_input_mode = "NEVER"
        user.initiate_chat(assistant, message="Paris?", max_turns=3)
        then = assistant.chat_messages[user]
        fresh_assistant, fresh_user = pair()
        if server is None:
            restore(tmp_path / "ledger", correlation_of(user), [fresh_assistant, fresh_user])
        else:
            restore(None, correlation_of(user), [fresh_assistant, fresh_user], server=server)
        assert fresh_assistant.chat_messages[fresh_user] == then and len(then) >= 4


def test_another_process_restores_a_chat_the_moment_its_recorder_acknowledged_it(tmp_path):
    """The recording process keeps the ledger open (its writer alive, nothing sealed yet); this one
    restores the chat at once, reading the writer's WAL."""
    import subprocess
    import sys

    from tests.helpers import ROOT

    recorder = subprocess.Popen([sys.executable, "-m", "tests.instrumentation.autogen_recorder", str(tmp_path / "l")],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert recorder.stdout is not None
        done = next(line for line in recorder.stdout if line.startswith("DONE "))  # AG2 prints the chat before
        _, correlation, messages = done.split()
        assert not list((tmp_path / "l" / "segments").glob("*.parquet"))  # nothing sealed: only the WAL has it
        fresh_assistant, fresh_user = pair()
        restore(tmp_path / "l", correlation, [fresh_assistant, fresh_user])
        restored = fresh_assistant.chat_messages[fresh_user]
        assert len(restored) == int(messages) >= 4
        assert restored[0]["content"] == "Paris?" and "Sunny" in restored[-1]["content"]
    finally:
        recorder.communicate("", timeout=60)


def test_restore_upto_a_seq_forks_the_chat_and_the_agents_continue_the_fork(tmp_path):
    from chatsnapshot.instrumentation.configuration import current_pipeline
    from chatsnapshot.ledger import Ledger

    chatsnapshot.configure(ledger=tmp_path / "ledger")
    ScriptedClient.SCRIPT[:] = [{"tool_calls": [("get_weather", {"city": "Paris"})]}, "Sunny in Paris. TERMINATE",
                                {"tool_calls": [("get_weather", {"city": "London"})]}, "Rain in London. TERMINATE"]
    assistant, user = pair()
    user.human_input_mode = "NEVER"
    user.initiate_chat(assistant, message="Paris?", max_turns=3)
    user.initiate_chat(assistant, message="And London?", max_turns=3, clear_history=False)
    original = correlation_of(user)
    assert current_pipeline().force_flush()
    with Ledger.open(tmp_path / "ledger", readonly=True) as ledger:
        before = list(ledger.replay(original))

    def says(fact, text: str) -> bool:
        message = fact.payload.get("message")
        return fact.event_type == "execution.message" and text in (
            message, message.get("content") if isinstance(message, dict) else None)

    at = next(f.seq for f in before if says(f, "And London?")) - 1  # the fork asks about Berlin instead

    ScriptedClient.SCRIPT[:] = ["Berlin is cloudy. TERMINATE"]
    fresh_assistant, fresh_user = pair()
    fresh_user.human_input_mode = "NEVER"
    restored = restore(tmp_path / "ledger", original, [fresh_assistant, fresh_user], upto_seq=at)
    assert restored.correlation_id != original
    assert [m["role"] for m in fresh_assistant.chat_messages[fresh_user]] == ["user", "assistant", "tool", "assistant"]
    fresh_user.initiate_chat(fresh_assistant, message="And Berlin?", max_turns=1, clear_history=False)
    flush()
    runs = read_runs(tmp_path / "ledger")  # verifies every chain
    assert [(f.event_id, f.payload) for f in runs[original]] == [(f.event_id, f.payload) for f in before]
    forked = runs[restored.correlation_id]
    assert forked[0].payload == {"forked_from": original, "at_seq": at, "fact_id": before[at - 1].event_id}
    assert [f.payload for f in forked[1:at + 1]] == [f.payload for f in before[:at]]
    assert any("Berlin" in json.dumps(f.payload) for f in forked[at + 1:])
    assert not any("London" in json.dumps(f.payload) for f in forked)


def test_what_the_model_was_asked_with_is_recorded_and_each_call_names_it(tmp_path):
    chatsnapshot.configure(ledger=tmp_path / "ledger")
    ScriptedClient.SCRIPT[:] = [{"tool_calls": [("get_weather", {"city": "Paris"})]}, "Sunny. TERMINATE"]
    assistant, user = pair()
    user.human_input_mode = "NEVER"
    user.initiate_chat(assistant, message="Paris?", max_turns=3)
    flush()
    facts = only_run(tmp_path / "ledger")
    inputs = [f for f in facts if f.event_type == "execution.model_inputs"]
    assert len(inputs) == 1  # the same for both calls
    payload = inputs[0].payload
    assert payload["system_prompt"] == ["You are helpful."] and payload["parameters"]["model"] == "scripted-model"
    assert [(t["name"], t["description"]) for t in payload["tools"]] == [("get_weather", "Get the weather for a city")]
    calls = [f for f in facts if f.event_type == "execution.llm_call"]
    assert len(calls) == 2 and {c.payload["inputs"] for c in calls} == {inputs[0].event_id}


def test_group_chat_restore_resumes_with_the_recorded_messages(tmp_path):
    chatsnapshot.configure(ledger=tmp_path / "ledger")
    ScriptedClient.SCRIPT[:] = ["Plan: research then write.", "Draft written. TERMINATE"]
    group_run("round_robin")
    flush()
    [correlation] = read_runs(tmp_path / "ledger")
    planner = ConversableAgent("planner", llm_config=LLM, human_input_mode="NEVER")
    writer = ConversableAgent("writer", llm_config=LLM, human_input_mode="NEVER")
    user = ConversableAgent("user", llm_config=False, human_input_mode="NEVER", code_execution_config=False)
    chat = GroupChat(agents=[user, planner, writer], messages=[], max_round=3, speaker_selection_method="round_robin")
    manager = GroupChatManager(groupchat=chat, llm_config=LLM)
    restored = restore(tmp_path / "ledger", correlation, [user, planner, writer, manager], groupchat=chat)
    assert [m["name"] for m in chat.messages] == ["user", "planner", "writer"]
    last_agent, last_message = manager.resume(messages=restored.group_messages, silent=True)
    assert last_agent is writer and "Draft written" in last_message["content"]


def test_uninstrument_stops_recording_and_instrument_twice_records_once(tmp_path, autogen_instrumented):
    chatsnapshot.configure(ledger=tmp_path / "ledger")

    def talk() -> str | None:
        ScriptedClient.SCRIPT[:] = ["Hello. TERMINATE"]
        assistant, user = pair()
        user.human_input_mode = "NEVER"
        user.initiate_chat(assistant, message="hi", max_turns=1)
        return correlation_of(user)

    once = talk()
    autogen_instrumented.instrument()
    AutogenInstrumentor().instrument()
    twice = talk()
    autogen_instrumented.uninstrument()
    talk()
    flush()
    runs = read_runs(tmp_path / "ledger")
    assert set(runs) == {once, twice}
    assert [f.event_type for f in runs[once]] == [f.event_type for f in runs[twice]]
    assert len({f.event_id for f in runs[twice]}) == len(runs[twice])


class Unjsonable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr either")


def test_a_failing_exporter_or_a_hostile_payload_never_breaks_the_conversation(tmp_path):
    def hostile() -> Any:
        """Returns an object that refuses JSON and repr."""
        return Unjsonable()

    def talk() -> Any:
        ScriptedClient.SCRIPT[:] = [{"tool_calls": [("hostile", {})]}, "still here. TERMINATE"]
        assistant = ConversableAgent("assistant", llm_config=LLM, human_input_mode="NEVER")
        user = ConversableAgent("user", llm_config=False, human_input_mode="NEVER", code_execution_config=False)
        register_function(hostile, caller=assistant, executor=user, description="hostile")
        return user.initiate_chat(assistant, message="go", max_turns=2)

    (tmp_path / "not-a-directory").write_text("a file where the ledger should be")
    chatsnapshot.configure(ledger=tmp_path / "not-a-directory")
    assert "still here" in talk().summary
    _install(None)
    chatsnapshot.configure(ledger=tmp_path / "ledger")
    assert "still here" in talk().summary
    flush()
    check_causation(only_run(tmp_path / "ledger"))


def test_autogen_opentelemetry_alongside_adds_no_facts_even_with_span_rules(tmp_path):
    from autogen.opentelemetry import instrument_agent, instrument_llm_wrapper
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from chatsnapshot.exporter.ledger_exporters import LedgerSpanExporter
    from chatsnapshot.instrumentation.configuration import Pipeline
    from chatsnapshot.receiver.span_rules import DEFAULT_RULES

    counts = {}
    for telemetry in (False, True):
        path = tmp_path / f"telemetry-{telemetry}"
        exporter = LedgerSpanExporter(path, rules=DEFAULT_RULES)
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        _install(Pipeline("spans", str(path), tracer_provider=provider, exporter=exporter))
        ScriptedClient.SCRIPT[:] = [{"tool_calls": [("get_weather", {"city": "Paris"})]}, "Sunny. TERMINATE"]
        assistant, user = pair()
        user.human_input_mode = "NEVER"
        if telemetry:
            instrument_llm_wrapper(tracer_provider=provider)
            for agent in (assistant, user):
                instrument_agent(agent, tracer_provider=provider)
        user.initiate_chat(assistant, message="Paris?", max_turns=3)
        flush()
        counts[telemetry] = [f.event_type for f in only_run(path)]
    assert counts[True] == counts[False]


def test_instrumentor_is_registered_for_opentelemetry_instrument():
    from importlib.metadata import entry_points

    [entry] = [e for e in entry_points(group="opentelemetry_instrumentor") if e.name == "autogen"]
    assert entry.load() is AutogenInstrumentor
    assert AutogenInstrumentor().instrumentation_dependencies() == ("ag2 >= 0.14, < 1",)
