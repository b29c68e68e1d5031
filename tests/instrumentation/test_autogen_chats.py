"""AG2 0.x: failures, safeguards, context conditions, nested, sequential and async chats.

Runs in the 0.x environment that ``make test`` builds (``.venv-ag2-0``), like test_autogen.py,
with the same scripted model and real embedded ledger.
"""


import asyncio
from typing import Any

import pytest

pytest.importorskip("autogen")

from autogen import ConversableAgent
from autogen.agentchat import initiate_group_chat
from autogen.agentchat.group import (
    AgentTarget,
    ContextVariables,
    OnContextCondition,
    ReplyResult,
    StringContextCondition,
    TerminateTarget,
)
from autogen.agentchat.group.patterns import DefaultPattern
from autogen.agentchat.group.safeguards import apply_safeguard_policy

import chatsnapshot
from chatsnapshot.instrumentation.autogen import correlation_of
from tests.instrumentation.autogen_scripted import LLM, ScriptedClient, flush, pair
from tests.instrumentation.recorded import cause_of, check_causation, comparable, only_run, read_runs

pytestmark = pytest.mark.usefixtures("autogen_instrumented")

WEATHER = [{"tool_calls": [("get_weather", {"city": "Paris"})]}, "Sunny in Paris. TERMINATE"]


def kinds(facts: list[Any], event_type: str = "execution.handoff") -> list[Any]:
    return [f.payload["kind"] for f in facts if f.event_type == event_type]


def test_a_failing_model_records_the_error_turn_and_run_failed(tmp_path):
    chatsnapshot.configure(ledger=tmp_path / "ledger")
    ScriptedClient.SCRIPT[:] = [RuntimeError("model endpoint down")]
    assistant, user = pair()
    user.human_input_mode = "NEVER"
    with pytest.raises(RuntimeError, match="model endpoint down"):
        user.initiate_chat(assistant, message="Paris?", max_turns=3)
    flush()
    facts = only_run(tmp_path / "ledger")
    by_id = check_causation(facts)
    [call] = [f for f in facts if f.event_type == "execution.llm_call"]
    assert call.payload["status"] == "error" and "model endpoint down" in str(call.payload["error"])
    assert facts[-1].event_type == "execution.run_failed"
    assert "model endpoint down" in str(facts[-1].payload["error"])
    assert cause_of(facts[-1], by_id).event_type == "execution.turn_completed"
    assert cause_of(facts[-1], by_id).payload["status"] == "error"


def test_safeguard_checks_and_violations_are_alerts(tmp_path):
    chatsnapshot.configure(ledger=tmp_path / "ledger")
    ScriptedClient.SCRIPT[:] = list(WEATHER)
    assistant, user = pair()
    user.human_input_mode = "NEVER"
    apply_safeguard_policy(agents=[assistant, user], policy={"agent_environment_safeguards": {"tool_interaction": [
        {"message_source": "get_weather", "message_destination": "user", "check_method": "regex",
         "pattern": "sunny", "action": "block"}]}})
    user.initiate_chat(assistant, message="Paris?", max_turns=3)
    flush()
    facts = only_run(tmp_path / "ledger")
    by_id = check_causation(facts)
    alerts = [f for f in facts if f.event_type == "execution.alert"]
    assert [a.payload["event"] for a in alerts] == ["check", "violation", "action"]
    assert [a.payload["severity"] for a in alerts] == ["info", "warning", "warning"]
    assert {a.payload["source"] for a in alerts} == {"safeguard"}
    assert cause_of(alerts[0], by_id).event_type == "execution.tool_result"
    blocked = next(f for f in facts if f.event_type == "execution.message" and f.payload["role"] == "tool")
    assert "sunny" not in blocked.payload["content"]  # what the assistant saw is the safeguarded result


def test_an_on_context_condition_handoff_is_recorded(tmp_path):
    chatsnapshot.configure(ledger=tmp_path / "ledger")
    reviewer = ConversableAgent("reviewer", llm_config=LLM)
    specialist = ConversableAgent("specialist", llm_config=LLM)

    def escalate(reason: str, context_variables: ContextVariables) -> ReplyResult:
        """Escalate the request."""
        context_variables["escalated"] = True
        return ReplyResult(message=f"escalated: {reason}", target=AgentTarget(specialist),
                           context_variables=context_variables)

    triage = ConversableAgent("triage", llm_config=LLM, functions=[escalate])
    specialist.handoffs.add_context_condition(
        OnContextCondition(target=AgentTarget(reviewer), condition=StringContextCondition(variable_name="escalated")))
    reviewer.handoffs.set_after_work(TerminateTarget())
    pattern = DefaultPattern(initial_agent=triage, agents=[triage, specialist, reviewer],
                             context_variables=ContextVariables(data={"escalated": False}),
                             group_after_work=TerminateTarget())
    ScriptedClient.SCRIPT[:] = [{"tool_calls": [("escalate", {"reason": "angry customer"})]}, "Reviewed."]
    initiate_group_chat(pattern=pattern, messages="Refund now!", max_rounds=8)
    flush()
    facts = only_run(tmp_path / "ledger")
    check_causation(facts)
    handoffs = [(f.payload["kind"], f.payload["from"], f.payload["to"]) for f in facts
                if f.event_type == "execution.handoff"]
    assert ("on_context_condition", "specialist", "reviewer") in handoffs
    # the condition held before the specialist asked its model: only triage and reviewer called it
    assert [f.source.agent for f in facts if f.event_type == "execution.llm_call"] == ["triage", "reviewer"]


def test_nested_chats_share_the_run_and_are_told_apart_by_span_parentage(tmp_path):
    chatsnapshot.configure(ledger=tmp_path / "ledger")
    writer = ConversableAgent("writer", llm_config=LLM, human_input_mode="NEVER")
    critic = ConversableAgent("critic", llm_config=LLM, human_input_mode="NEVER")
    user = ConversableAgent("user", llm_config=False, human_input_mode="NEVER", code_execution_config=False)
    user.register_nested_chats([{"recipient": critic, "max_turns": 1, "summary_method": "last_msg",
                                 "message": lambda recipient, messages, sender, config: "Review: "
                                 + messages[-1]["content"]}], trigger=writer)
    ScriptedClient.SCRIPT[:] = ["A draft.", "Too short.", "A longer draft. TERMINATE"]
    user.initiate_chat(writer, message="Write.", max_turns=2)
    flush()
    [run] = read_runs(tmp_path / "ledger").values()
    by_id = check_causation(run)
    [nested] = [f for f in run if f.event_type == "execution.handoff"]
    assert nested.payload == {"kind": "nested_chat", "from": "user", "to": "critic", "max_turns": 1}
    inner = [f for f in run if f.source.agent == "critic" and f.event_type == "execution.llm_call"]
    assert inner and cause_of(nested, by_id).event_type == "execution.turn_started"
    # span parentage tells the chats apart: the nested chat's messages are inside the user's turn span,
    # the outer chat's directly inside the run span
    user_turn_span = cause_of(nested, by_id).parent_span_id
    assert nested.parent_span_id == user_turn_span != run[0].parent_span_id
    messages = [f for f in run if f.event_type == "execution.message"]
    assert {f.parent_span_id for f in messages if "critic" in (f.payload["sender"], f.payload["recipient"])} == {
        user_turn_span}
    assert {f.parent_span_id for f in messages if "writer" in (f.payload["sender"], f.payload["recipient"])} == {
        run[0].parent_span_id}
    assert user.chat_messages[writer][-2]["content"] == "Too short."  # the nested summary was the reply


def test_a_sequence_of_chats_is_one_run_with_sequential_handoffs(tmp_path):
    chatsnapshot.configure(ledger=tmp_path / "ledger")
    assistant, user = pair()
    user.human_input_mode = "NEVER"
    critic = ConversableAgent("critic", llm_config=LLM, human_input_mode="NEVER")
    ScriptedClient.SCRIPT[:] = ["Paris is sunny.", "Looks right."]
    results = user.initiate_chats([{"recipient": assistant, "message": "Paris?", "max_turns": 1},
                                   {"recipient": critic, "message": "Check it.", "max_turns": 1}])
    flush()
    assert [r.summary for r in results] == ["Paris is sunny.", "Looks right."]
    [(correlation, run)] = read_runs(tmp_path / "ledger").items()
    check_causation(run)
    assert correlation_of(user) == correlation_of(critic) == correlation
    assert run[0].payload["chats"] == 2 and run[-1].event_type == "execution.run_completed"
    assert [(f.payload["kind"], f.payload["to"]) for f in run if f.event_type == "execution.handoff"] == [
        ("sequential_chat", "assistant"), ("sequential_chat", "critic")]


def test_async_chats_record_what_sync_chats_record(tmp_path):
    def sync() -> None:
        assistant, user = pair()
        user.human_input_mode = "NEVER"
        user.initiate_chat(assistant, message="Paris?", max_turns=3)

    async def in_async() -> None:
        assistant, user = pair()
        user.human_input_mode = "NEVER"
        await user.a_initiate_chat(assistant, message="Paris?", max_turns=3)

    for name, chat in (("sync", sync), ("async", lambda: asyncio.run(in_async()))):
        chatsnapshot.configure(ledger=tmp_path / name)
        ScriptedClient.SCRIPT[:] = list(WEATHER)
        chat()
        flush()
    sync_facts, async_facts = only_run(tmp_path / "sync"), only_run(tmp_path / "async")
    sync_ids, async_ids = check_causation(sync_facts), check_causation(async_facts)
    assert "execution.tool_result" in {f.event_type for f in async_facts}
    assert [comparable(f, async_ids) for f in async_facts] == [comparable(f, sync_ids) for f in sync_facts]


def test_async_sequences_are_one_run(tmp_path):
    chatsnapshot.configure(ledger=tmp_path / "ledger")
    assistant, user = pair()
    user.human_input_mode = "NEVER"
    critic = ConversableAgent("critic", llm_config=LLM, human_input_mode="NEVER")
    ScriptedClient.SCRIPT[:] = ["Paris is sunny.", "Looks right."]
    asyncio.run(user.a_initiate_chats([
        {"chat_id": 1, "recipient": assistant, "message": "Paris?", "max_turns": 1},
        {"chat_id": 2, "prerequisites": [1], "recipient": critic, "message": "Check it.", "max_turns": 1}]))
    flush()
    [run] = read_runs(tmp_path / "ledger").values()
    check_causation(run)
    assert kinds(run) == ["sequential_chat", "sequential_chat"]
    assert {f.source.agent for f in run if f.event_type == "execution.llm_call"} == {"assistant", "critic"}
