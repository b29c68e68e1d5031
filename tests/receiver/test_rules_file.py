"""Span promotion rules are data: the shipped defaults file, and users' files over it."""

from __future__ import annotations

import pytest

from chatsnapshot.receiver.span_rules import DEFAULT_RULES, DEFAULT_RULES_FILE, load_rules


def test_the_defaults_are_the_shipped_file_and_match_by_operation_kind_or_name():
    assert DEFAULT_RULES_FILE.name == "default.toml" and DEFAULT_RULES_FILE.exists()
    assert DEFAULT_RULES.match("chat", "anything").shape == "llm"
    assert DEFAULT_RULES.match(None, "ChatCompletion", "LLM").event_type == "execution.llm_call"
    assert DEFAULT_RULES.match(None, "execute_tool get_weather").shape == "tool"
    assert DEFAULT_RULES.match(None, "GET /health") is None


def test_a_users_file_extends_or_replaces_the_defaults(tmp_path):
    extra = tmp_path / "rules.toml"
    extra.write_text('[[rule]]\nopeninference_kind = "RETRIEVER"\nevent_type = "integration.call"\n'
                     'origin = "integration"\n')
    rules = load_rules(extra)
    assert rules.match(None, "retrieve", "RETRIEVER").event_type == "integration.call"
    assert rules.match("chat", "x") is not None  # the defaults stay
    only = tmp_path / "only.toml"
    only.write_text('replace_defaults = true\n[[rule]]\noperation = "chat"\nevent_type = "x.acme.llm"\n')
    rules = load_rules(only)
    assert rules.match("chat", "x").event_type == "x.acme.llm" and rules.match("execute_tool", "x") is None


@pytest.mark.parametrize("body, message", [
    ('[[rule]]\noperation = "chat"\nevent_type = "execution.llm_call"\nshape = "blob"\n', "shape must be one of"),
    ('[[rule]]\nevent_type = "execution.llm_call"\n', "operation = "),
    ('[[rule]]\noperation = "chat"\nevent_type = "llm"\n', "not a dotted lowercase name"),
    ('[[rule]]\noperation = "chat"\nevent_type = "execution.llm_call"\ncolour = "red"\n', "unknown keys"),
])
def test_a_bad_rules_file_names_the_file_the_rule_and_what_to_change(tmp_path, body, message):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(ValueError, match=message) as e:
        load_rules(path)
    assert str(path) in str(e.value) and "rule 1" in str(e.value)


def test_embeddings_and_retrieval_spans_become_standard_facts():
    from chatsnapshot.ledger.payloads import check
    from chatsnapshot.receiver.promotion import promote_traces
    from tests.otlp import SpanRecorder, request_of

    rec = SpanRecorder()
    with rec.tracer.start_as_current_span("embeddings text-embedding-3", attributes={
            "gen_ai.operation.name": "embeddings", "gen_ai.request.model": "text-embedding-3",
            "gen_ai.usage.input_tokens": 9}):
        pass
    with rec.tracer.start_as_current_span("retrieve", attributes={
            "openinference.span.kind": "RETRIEVER", "input.value": "refund policy", "output.value": "30 days"}):
        pass
    facts = promote_traces(request_of(rec.spans()), rules=DEFAULT_RULES).envelopes
    by_type = {(e.event_type, e.payload.get("span")): e for e in facts}
    call = by_type["execution.llm_call", "embeddings text-embedding-3"]
    assert call.payload["model"] == "text-embedding-3" and call.payload["input_tokens"] == 9
    found = by_type["execution.tool_result", "retrieve"]
    assert found.payload["arguments"] == "refund policy" and found.payload["result"] == "30 days"
    assert [(e.event_type, p) for e in facts for p in check(e.event_type, e.payload)] == []
