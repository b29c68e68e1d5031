"""Context for prompts: never over the budget, always the newest fact, the rest counted."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatsnapshot.ledger.projections import context
from chatsnapshot.ledger.projections.context import MIN_BUDGET, SKIPPED
from tests.ledger.projections.facts import fact, runs


@settings(max_examples=300, deadline=None)
@given(facts=runs(max_size=60), budget=st.integers(MIN_BUDGET, 6_000))
def test_context_never_exceeds_the_budget_and_always_keeps_the_newest_fact(facts, budget):
    result = context(facts, budget)
    assert result.chars <= budget
    rendered = [e for e in facts if e.event_type not in SKIPPED and _renders(e)]
    assert result.kept + result.left_out == len(rendered)
    if rendered:
        assert result.kept >= 1
        newest = context([rendered[-1]], 10**9).messages[-1]
        last = result.messages[-1]
        assert last["role"] == newest["role"]
        assert last["content"] == newest["content"] or (
            last["content"].endswith("…[cut to fit the context budget]")
            and newest["content"].startswith(last["content"].removesuffix(" …[cut to fit the context budget]")))
    if result.left_out:
        assert result.messages[0] == {"role": "system", "content": f"[{result.left_out} older facts of this run "
                                                                   f"left out to fit {budget} characters]"}
    else:
        assert len(result.messages) == result.kept


def _renders(e) -> bool:
    return bool(context([e], 10**9).messages)


def test_messages_keep_their_roles_and_tools_read_as_calls_and_results():
    call = fact("execution.tool_call", {"name": "weather", "arguments": '{"city": "Paris"}'})
    facts = [
        fact("execution.message", {"role": "user", "content": "Weather in Paris?"}, agent=None),
        fact("execution.turn_started", {"agent": "planner"}),
        call,
        fact("execution.tool_result", {"name": "weather", "status": "ok", "result": "sunny"}, cause=call.event_id),
        fact("execution.message", {"role": "assistant", "content": "Sunny."}),
        fact("execution.message", {"role": "assistant", "content": "Sunny.", "relayed": True}, agent="manager"),
    ]
    assert context(facts, 1000).messages == [
        {"role": "user", "name": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "name": "planner", "content": '[tool call] weather({"city": "Paris"})'},
        {"role": "user", "content": "[tool result weather: ok] sunny"},
        {"role": "assistant", "name": "planner", "content": "Sunny."},
    ]


def test_a_budget_below_the_minimum_is_refused():
    with pytest.raises(ValueError, match=f"at least {MIN_BUDGET}"):
        context([], MIN_BUDGET - 1)
