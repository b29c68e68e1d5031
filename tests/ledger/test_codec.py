"""JSON form and protobuf: lossless round trips, strict input."""

from __future__ import annotations

import json

import pytest

from chatsnapshot.ledger import (
    EnvelopeError,
    Ledger,
    envelope_from_json,
    envelope_from_proto,
    envelope_to_json,
    envelope_to_proto,
    fact_from_json,
)
from chatsnapshot.ledger.timestamps import format_rfc3339_ns, parse_rfc3339_ns

JSON_KEYS = {"event_id", "event_type", "schema_version", "occurred_at", "recorded_at", "source", "correlation_id",
             "causation_id", "trace_id", "span_id", "parent_span_id", "seq", "position", "payload", "prev_hash",
             "hash", "payload_salt", "payload_digest", "cause_id"}


@pytest.fixture
def stored(tmp_path, facts):
    batch = facts(4, correlations=1)
    rich = batch[0].__class__.create(
        "execution.tool_call", correlation_id="run-0", payload={"n": 1, "f": 0.5, "s": "ü", "l": [None, True]},
        causation_id=batch[0].event_id, trace_id="4bf92f3577b34da6a3ce929d0e0e4736", span_id="00f067aa0ba902b7",
        parent_span_id="00f067aa0ba902b8", service="svc", agent="planner", origin="agent", runtime="ag2")
    with Ledger.open(tmp_path) as ledger:
        ledger.append([*batch, rich])
        return list(ledger.replay("run-0"))


def test_json_form_has_exactly_the_documented_keys_and_round_trips(stored):
    for env in stored:
        doc = json.loads(json.dumps(envelope_to_json(env)))
        assert set(doc) == JSON_KEYS
        assert set(doc["source"]) == {"origin", "runtime", "service", "agent"}
        assert doc["occurred_at"].endswith("Z") and len(doc["occurred_at"].split(".")[1]) == 10
        assert envelope_from_json(doc, keep_assigned=True) == env


def test_proto_round_trip_is_lossless(stored):
    for env in stored:
        msg = envelope_to_proto(env)
        assert envelope_from_proto(type(msg).FromString(msg.SerializeToString())) == env


def test_input_ignores_assigned_fields_unless_asked(stored):
    doc = envelope_to_json(stored[1])
    fresh = envelope_from_json(doc)
    assert (fresh.seq, fresh.position, fresh.hash, fresh.recorded_at) == (None, None, None, None)
    assert fresh.content() == stored[1].content()


def test_bare_fact_with_a_uuid7_takes_its_time_from_it():
    doc = {"event_type": "system.task_completed", "correlation_id": "r",
           "event_id": "0190b6a2-7c4e-7d3a-9f1e-2b8c4d5e6f70"}
    assert fact_from_json(doc) == fact_from_json(dict(doc))
    assert fact_from_json(doc).occurred_at == 0x0190B6A27C4E * 1_000_000


def test_bare_fact_gets_id_time_and_source():
    env = fact_from_json({"event_type": "system.task_completed", "correlation_id": "r"})
    assert env.source.origin == "system" and env.source.runtime == "custom"
    assert env.event_id and env.occurred_at > 0 and env.payload == {}


@pytest.mark.parametrize(("doc", "message"), [
    ({"event_type": "system.a_b", "correlation_id": "r", "colour": 1}, "unknown field"),
    ({"event_type": "system.a_b"}, "correlation_id is required"),
    ({"event_type": "system.a_b", "correlation_id": "r", "payload": [1]}, "payload must be a JSON object"),
    ({"event_type": "system.a_b", "correlation_id": "r", "occurred_at": "yesterday"}, "RFC 3339"),
    ({"event_type": "system.a_b", "correlation_id": "r", "source": {"origin": "agent"}}, "source.runtime"),
    ("[]", "must be a JSON object"),
])
def test_bad_input_is_refused_with_a_clear_message(doc, message):
    with pytest.raises(EnvelopeError, match=message):
        fact_from_json(doc)


def test_a_full_envelope_needs_id_time_and_source():
    with pytest.raises(EnvelopeError, match="event_id is required"):
        envelope_from_json({"event_type": "system.a_b", "correlation_id": "r"})


@pytest.mark.parametrize(("text", "ns"), [
    ("1970-01-01T00:00:00Z", 0),
    ("2026-11-24T17:35:00.123456789Z", 1795541700123456789),
    ("2026-11-24T18:35:00.5+01:00", 1795541700500000000),
])
def test_rfc3339(text, ns):
    assert parse_rfc3339_ns(text) == ns
    assert parse_rfc3339_ns(format_rfc3339_ns(ns)) == ns
