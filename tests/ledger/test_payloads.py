"""The published payload schemas: what ChatSnapshot writes follows them, and what does not is named."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from chatsnapshot.ledger import Envelope
from chatsnapshot.ledger.payloads import SCHEMA_DIR, check, schema, schema_types
from chatsnapshot.ledger.projections import render_transcript, transcript
from chatsnapshot.receiver.promotion import promote_traces
from chatsnapshot.receiver.span_rules import DEFAULT_RULES
from tests.ledger.projections.golden_run import golden_envelopes
from tests.otlp import SpanRecorder, request_of


def test_every_schema_file_is_a_valid_schema_named_after_its_type():
    assert len(schema_types()) >= 20
    for event_type in schema_types():
        document = json.loads((SCHEMA_DIR / f"{event_type}.json").read_text())
        Draft202012Validator.check_schema(document)
        assert document["title"] == event_type and document["type"] == "object"


def test_a_recorded_ag2_run_follows_the_schemas():
    facts = golden_envelopes()
    covered = {f.event_type for f in facts} & set(schema_types())
    assert len(covered) >= 8  # the golden run exercises most types
    assert [(f.seq, f.event_type, p) for f in facts for p in check(f.event_type, f.payload)] == []


def test_promoted_genai_spans_follow_the_schemas():
    rec = SpanRecorder()
    with rec.tracer.start_as_current_span("invoke_agent a", attributes={"gen_ai.operation.name": "invoke_agent"}):
        with rec.tracer.start_as_current_span("chat m", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 3, "gen_ai.usage.output_tokens": 4,
                "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]),
                "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [
                    {"type": "tool_call", "id": "c1", "name": "f", "arguments": {"x": 1}}]}])}):
            pass
        with rec.tracer.start_as_current_span("execute_tool f", attributes={
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.call.id": "c1", "gen_ai.tool.call.result": "2"}):
            pass
    envelopes = promote_traces(request_of(rec.spans()), rules=DEFAULT_RULES).envelopes
    assert {e.event_type for e in envelopes} >= {"execution.message", "execution.llm_call", "execution.tool_call",
                                                 "execution.tool_result", "execution.usage"}
    assert [(e.event_type, p) for e in envelopes for p in check(e.event_type, e.payload)] == []


@pytest.mark.parametrize("event_type, payload, problem", [
    ("execution.tool_call", {"arguments": "{}"}, "payload: 'name' is a required property"),
    ("execution.usage", {"prompt_tokens": "12"}, "prompt_tokens: '12' is not of type 'integer', 'null'"),
    ("execution.tool_result", {"name": "f", "status": "fine"}, "status: 'fine' is not one of ['ok', 'error']"),
])
def test_what_does_not_follow_is_named_by_key(event_type, payload, problem):
    assert check(event_type, payload) == [problem]


def test_types_without_a_schema_are_not_checked_and_a_nonstandard_message_still_shows_its_text():
    assert schema("x.acme.thing") is None and check("x.acme.thing", {"anything": 1}) == []
    odd = Envelope.create("execution.message", correlation_id="r", payload={"text": "hello from elsewhere"})
    assert check(odd.event_type, odd.payload) == ["payload: 'content' is a required property"]
    stored = Envelope(**{**{f: getattr(odd, f) for f in ("event_id", "event_type", "correlation_id", "occurred_at",
                                                         "source", "payload_json")}, "seq": 1})
    assert "hello from elsewhere" in render_transcript(transcript([stored]))


def test_docs_list_every_published_schema():
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "payloads.md").read_text()
    assert [t for t in schema_types() if f"| `{t}` |" not in page] == []
