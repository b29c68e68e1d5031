"""One run per agent invocation (its trace), a conversation grouping several, in any arrival order."""

from __future__ import annotations

import itertools

from chatsnapshot.ledger import Ledger
from chatsnapshot.ledger.memory import MemoryLedger
from chatsnapshot.ledger.projections import causal_dag
from chatsnapshot.receiver.promotion import promote_traces
from chatsnapshot.receiver.span_rules import DEFAULT_RULES
from tests.otlp import SpanRecorder, request_of


def _invocation(recorder: SpanRecorder, conversation: str, question: str) -> None:
    """A GenAI-shaped agent invocation: invoke_agent (with the conversation id), then a chat
    span that asks for a tool, the tool, and a chat span that answers."""
    t = recorder.tracer
    with t.start_as_current_span("invoke_agent planner", attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner",
            "gen_ai.conversation.id": conversation}):
        with t.start_as_current_span("chat gpt-4o", attributes={"gen_ai.operation.name": "chat",
                                                               "gen_ai.request.model": "gpt-4o"}):
            pass
        with t.start_as_current_span("execute_tool get_weather", attributes={
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather"}):
            pass
        with t.start_as_current_span("chat gpt-4o", attributes={"gen_ai.operation.name": "chat",
                                                               "gen_ai.prompt": question}):
            pass


def test_an_invocation_and_its_descendants_are_one_run_in_every_arrival_order_and_a_conversation_groups_them(
        tmp_path):
    recorder = SpanRecorder(service="agent-app")
    _invocation(recorder, "conv-1", "weather in Paris?")
    _invocation(recorder, "conv-1", "and tomorrow?")
    spans = recorder.spans()
    traces = sorted({format(s.context.trace_id, "032x") for s in spans})
    first = [s for s in spans if format(s.context.trace_id, "032x") == traces[0]]
    seen = []
    for n, order in enumerate(itertools.permutations(first)):
        store = MemoryLedger.open(f"invocations-{n}")
        try:
            for span in order:  # every span in a request of its own, in this order
                store.append(promote_traces(request_of([span]), rules=DEFAULT_RULES).envelopes)
            runs = store.runs()
            assert [r.correlation_id for r in runs] == [traces[0]]  # one run, whatever came first
            assert runs[0].conversation_id == "conv-1"
            assert runs[0].event_types == {"execution.turn_completed": 1, "execution.llm_call": 2,
                                           "execution.tool_result": 1, "execution.message": 1}
            facts = list(store.replay(traces[0]))
            assert not causal_dag(facts).dangling
            seen.append(sorted((f.event_id, f.cause_id) for f in facts))
        finally:
            store.close()
    assert all(s == seen[0] for s in seen)

    store = MemoryLedger.open("invocations-both")
    try:
        store.append(promote_traces(request_of(spans), rules=DEFAULT_RULES).envelopes)
        assert sorted(r.correlation_id for r in store.runs()) == traces
        (row,) = store.sql("SELECT conversation_id, runs, correlation_ids FROM conversations").to_pylist()
        assert row["conversation_id"] == "conv-1" and row["runs"] == 2 and sorted(row["correlation_ids"]) == traces
    finally:
        store.close()
    with Ledger.open(tmp_path) as ledger:  # the disk store's runs view says the same
        ledger.append(promote_traces(request_of(spans), rules=DEFAULT_RULES).envelopes)
        ledger.seal()
        assert [(r.correlation_id, r.conversation_id) for r in sorted(ledger.runs())] == [
            (t, "conv-1") for t in traces]


def test_an_explicit_correlation_still_wins_over_the_trace():
    recorder = SpanRecorder()
    with recorder.tracer.start_as_current_span("invoke_agent a", attributes={
            "gen_ai.operation.name": "invoke_agent", "chatsnapshot.correlation_id": "my-run",
            "session.id": "session-7"}):
        pass
    (env,) = promote_traces(request_of(recorder.spans()), rules=DEFAULT_RULES).envelopes
    assert env.correlation_id == "my-run" and env.payload["conversation_id"] == "session-7"
