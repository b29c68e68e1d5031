"""Promotion: OTLP spans and log records to envelopes, deterministically."""

from __future__ import annotations

import itertools
import json

from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import Status, StatusCode

from chatsnapshot.ledger.ids import derived_id
from chatsnapshot.proto import attributes as A
from chatsnapshot.receiver.promotion import promote_logs, promote_traces
from chatsnapshot.receiver.span_rules import DEFAULT_RULES
from tests.otlp import SpanRecorder, agent_trace, fact_attributes, request_of


def test_facts_are_promoted_with_causation_from_parentage():
    rec = SpanRecorder(service="weather-svc")
    agent_trace(rec)
    envelopes = promote_traces(request_of(rec.spans())).envelopes
    by_type = {e.event_type: e for e in envelopes}
    assert len(envelopes) == 7  # the non-fact event is not promoted
    run, tool_call = by_type["execution.run_started"], by_type["execution.tool_call"]
    assert run.causation_id is None  # a root span's first fact is a root
    assert by_type["execution.run_completed"].causation_id == run.event_id  # previous fact, same span
    assert by_type["execution.turn_started"].causation_id == run.event_id  # parent span's first fact
    assert by_type["execution.llm_call"].causation_id == by_type["execution.turn_started"].event_id
    assert tool_call.causation_id == by_type["execution.turn_started"].event_id
    assert by_type["execution.tool_result"].causation_id == tool_call.event_id
    assert {e.correlation_id for e in envelopes} == {run.trace_id}  # no explicit correlation: the trace
    assert {e.source.service for e in envelopes} == {"weather-svc"}
    assert tool_call.payload == {"city": "Paris"}
    assert tool_call.span_id != run.span_id and tool_call.parent_span_id is not None


def test_ids_and_causes_do_not_depend_on_batching_order_or_duplicates():
    rec = SpanRecorder()
    agent_trace(rec)
    spans = rec.spans()
    assert len(spans) == 3
    expected = {(e.event_id, e.causation_id) for e in promote_traces(request_of(spans)).envelopes}
    for order in itertools.permutations(spans):
        seen = set()
        for i, span in enumerate(order):  # one request per span, with a duplicate of the previous one
            batch = [span] if i == 0 else [order[i - 1], span]
            seen |= {(e.event_id, e.causation_id) for e in promote_traces(request_of(batch)).envelopes}
        assert seen == expected


def test_explicit_attributes_win():
    rec = SpanRecorder()
    with rec.tracer.start_as_current_span("s", attributes={A.GEN_AI_CONVERSATION_ID: "conv-1"}) as span:
        span.add_event("e", fact_attributes("system.task_scheduled", **{
            A.EVENT_ID: "0190a5c4-0000-7000-8000-000000000001",
            A.CAUSATION_ID: "0190a5c4-0000-7000-8000-000000000000",
            A.SOURCE_AGENT: "planner"}))
        span.add_event("e2", fact_attributes("system.task_completed", **{A.CORRELATION_ID: "run-9"}))
    first, second = promote_traces(request_of(rec.spans())).envelopes
    assert (first.event_id, first.causation_id) == ("0190a5c4-0000-7000-8000-000000000001",
                                                    "0190a5c4-0000-7000-8000-000000000000")
    assert first.correlation_id == first.trace_id  # a conversation groups runs; it is not one
    assert first.source.agent == "planner"
    assert second.correlation_id == "run-9" and second.causation_id == first.event_id


def test_a_derived_id_is_a_uuid_v8_and_a_function_of_its_position():
    a = derived_id(b"\1" * 16, b"\2" * 8, 0)
    assert a[14] == "8" and a[19] in "89ab"
    assert a == derived_id(b"\1" * 16, b"\2" * 8, 0) != derived_id(b"\1" * 16, b"\2" * 8, 1)


def test_invalid_facts_are_rejected_with_a_reason_and_the_rest_kept():
    rec = SpanRecorder()
    with rec.tracer.start_as_current_span("s") as span:
        span.add_event("bad", fact_attributes("nonsense"))
        span.add_event("bad2", {**fact_attributes("system.error"), A.PAYLOAD: "[1, 2]"})
        span.add_event("ok", fact_attributes("system.error", {"why": "x"}))
    promotion = promote_traces(request_of(rec.spans()))
    assert [e.event_type for e in promotion.envelopes] == ["system.error"]
    reasons = [(r.field, r.event_type) for r in promotion.rejected]
    assert reasons == [("event_type", "nonsense"), ("payload", "system.error")]
    assert "known namespace" in promotion.rejected[0].reason
    assert json.loads(promotion.rejected[1].attributes_json)[A.PAYLOAD] == "[1, 2]"


def test_genai_spans_become_facts_with_rules_on_and_nothing_without():
    rec = SpanRecorder()
    t = rec.tracer
    with t.start_as_current_span("invoke_agent planner", attributes={A.GEN_AI_OPERATION_NAME: "invoke_agent",
                                                                     A.GEN_AI_AGENT_NAME: "planner"}):
        with t.start_as_current_span("chat gpt", attributes={A.GEN_AI_OPERATION_NAME: "chat",
                                                             "gen_ai.usage.input_tokens": 12}):
            pass
        with t.start_as_current_span("execute_tool lookup") as tool:
            tool.set_status(Status(StatusCode.ERROR, "boom"))
        with t.start_as_current_span("http GET"):
            pass
    request = request_of(rec.spans())
    assert promote_traces(request).envelopes == []
    envelopes = {e.event_type: e for e in promote_traces(request, rules=DEFAULT_RULES).envelopes}
    assert set(envelopes) == {"execution.turn_completed", "execution.llm_call", "execution.tool_result",
                              "execution.usage"}  # the chat span's tokens as a usage fact of its own
    turn, llm, tool_fact, usage = (envelopes[k] for k in ("execution.turn_completed", "execution.llm_call",
                                                          "execution.tool_result", "execution.usage"))
    assert llm.causation_id == turn.event_id == tool_fact.causation_id
    assert usage.causation_id == llm.event_id  # the next fact of the same span
    assert llm.payload["attributes"]["gen_ai.usage.input_tokens"] == 12 and llm.payload["input_tokens"] == 12
    assert usage.payload == {"prompt_tokens": 12}
    assert tool_fact.payload["status"] == "error" and tool_fact.payload["status_message"] == "boom"
    assert turn.source.agent == "planner" and turn.source.origin == "agent"


def test_log_records_with_event_type_are_facts():
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource.create({"service.name": "logs-svc"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("tests")
    rec = SpanRecorder()
    with rec.tracer.start_as_current_span("s"):
        for event_type in ("system.workflow_started", "system.workflow_completed"):
            logger.emit(timestamp=1_700_000_000_000_000_000, event_name=event_type,
                        attributes=fact_attributes(event_type, {"n": 1}))
        logger.emit(timestamp=1, body="just a log line", attributes={"k": "v"})
    request = encode_logs(exporter.get_finished_logs())
    envelopes = promote_logs(request).envelopes
    assert [e.event_type for e in envelopes] == ["system.workflow_started", "system.workflow_completed"]
    assert envelopes[0].source.service == "logs-svc"
    assert envelopes[0].event_id != envelopes[1].event_id
    assert envelopes[0].causation_id == derived_id(bytes.fromhex(envelopes[0].trace_id),
                                                   bytes.fromhex(envelopes[0].span_id), 0)
    assert [e.event_id for e in promote_logs(request).envelopes] == [e.event_id for e in envelopes]


def test_an_empty_causation_attribute_means_explicitly_a_root():
    rec = SpanRecorder()
    with rec.tracer.start_as_current_span("parent"), rec.tracer.start_as_current_span("child") as span:
        span.add_event("e", fact_attributes("system.task_scheduled", **{A.CAUSATION_ID: ""}))
        span.add_event("e", fact_attributes("system.task_completed"))
    first, second = promote_traces(request_of(rec.spans())).envelopes
    assert first.causation_id is None  # not the parent span's derived anchor
    assert second.causation_id == first.event_id


def test_a_payload_nested_too_deeply_is_a_rejection_not_a_crash():
    rec = SpanRecorder()
    with rec.tracer.start_as_current_span("s") as span:
        span.add_event("e", {**fact_attributes("system.error"), A.PAYLOAD: '{"a":' + "[" * 100_000 + "]" * 100_000
                             + "}"})
    promotion = promote_traces(request_of(rec.spans()))
    assert promotion.envelopes == [] and promotion.rejected[0].reason == "payload is nested too deeply"


def test_a_rejected_fact_still_links_its_successor_and_a_bad_given_id_does_not_poison_it():
    rec = SpanRecorder()
    with rec.tracer.start_as_current_span("execute_tool t") as span:
        span.set_status(Status(StatusCode.OK))
        span.add_event("a", fact_attributes("system.task_scheduled"))
        span.add_event("b", {**fact_attributes("system.task_started"), A.EVENT_ID: "not-a-uuid"})  # rejected
        span.add_event("c", fact_attributes("system.task_completed"))
    promotion = promote_traces(request_of(rec.spans()))
    first, third = promotion.envelopes
    assert [r.field for r in promotion.rejected] == ["event_id"]
    assert third.causation_id == first.event_id  # the invalid id is skipped, not used as a cause


def test_the_invalid_utf8_flag_keeps_any_valid_payload_valid():
    from chatsnapshot.receiver.promotion import _flag

    def flag_replaced(payload: str) -> str:
        return _flag(payload, A.INVALID_UTF8_FLAG, True)

    assert json.loads(flag_replaced('{ "a": "x\ufffdy" }  ')) == {"a": "x\ufffdy", A.INVALID_UTF8_FLAG: True}
    assert json.loads(flag_replaced("{}")) == {A.INVALID_UTF8_FLAG: True}


def test_a_carried_cause_applies_where_the_call_came_in_and_nested_spans_keep_their_parentage():
    from opentelemetry import context, trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    caller_fact = "0190a5c4-0000-7000-8000-0000000000aa"
    remote = SpanContext(trace_id=7, span_id=9, is_remote=True, trace_flags=TraceFlags(1))
    rec = SpanRecorder()
    carried = {A.CAUSATION_ID: caller_fact, A.CORRELATION_ID: "run-x"}  # as a baggage span processor puts them
    token = context.attach(trace.set_span_in_context(NonRecordingSpan(remote)))
    try:
        with rec.tracer.start_as_current_span("server", attributes=carried) as server:
            server.add_event("e", fact_attributes("execution.tool_call", {"name": "f"}))
            with rec.tracer.start_as_current_span("nested", attributes=carried) as nested:
                nested.add_event("e", fact_attributes("execution.llm_call"))
    finally:
        context.detach(token)
    by_type = {e.event_type: e for e in promote_traces(request_of(rec.spans())).envelopes}
    assert by_type["execution.tool_call"].causation_id == caller_fact  # the call came in here
    assert by_type["execution.llm_call"].causation_id == by_type["execution.tool_call"].event_id  # parentage
