"""The transcript: each thing said or done once, in order, attributed to its agent."""

from __future__ import annotations

from chatsnapshot.ledger.projections import render_transcript, transcript
from tests.ledger.projections.facts import fact


def test_relays_tool_responses_and_empty_messages_appear_once_as_what_they_are():
    call = fact("execution.tool_call", {"name": "weather", "arguments": '{"city": "Paris"}'}, agent="user")
    facts = [
        fact("execution.message", {"role": "user", "content": "Weather?", "recipient": "assistant"}, agent="user"),
        fact("execution.message", {"role": "user", "content": "Weather?", "relayed": True}, agent="manager"),
        fact("execution.message", {"role": "assistant", "content": None, "tool_calls": [{"id": "c"}]},
             agent="assistant"),
        call,
        fact("execution.tool_result", {"name": "weather", "status": "error", "error": "no such city"},
             agent="user", cause=call.event_id),
        fact("execution.message", {"role": "tool", "content": "no such city"}, agent="user"),
        fact("execution.human_input_requested", {"prompt": "Continue?"}, agent="user"),
        fact("execution.human_input_received", {"content": "yes"}, agent="user"),
        fact("execution.llm_call", {"status": "ok"}, agent="assistant"),
        fact("execution.message", {"role": "assistant", "content": "Sorry.", "recipient": "user"},
             agent="assistant"),
    ]
    entries = transcript(facts)
    assert [(e.kind, e.agent, e.text) for e in entries] == [
        ("message", "user", "Weather?"),
        ("tool_call", "user", '{"city": "Paris"}'),
        ("tool_result", "user", "no such city"),
        ("human_input_requested", "user", "Continue?"),
        ("human_input_received", "user", "yes"),
        ("message", "assistant", "Sorry."),
    ]
    assert entries[2].status == "error" and entries[0].to == "assistant"
    assert [e.kind for e in transcript(facts, agent="assistant")] == ["message", "message"]
    text = render_transcript(entries)
    assert "user ← weather (error)\n      no such city" in text and "assistant → user\n      Sorry." in text
