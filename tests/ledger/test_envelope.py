"""The envelope model: validation with errors that name the field, canonical payloads, ids."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from chatsnapshot.ledger import Envelope, EnvelopeError, Source, uuid7
from chatsnapshot.ledger.envelope import MAX_PAYLOAD_BYTES
from chatsnapshot.ledger.ids import uuid7_unix_ms


def make(**changes):
    base = dict(event_id=uuid7(), event_type="execution.message", correlation_id="run-1",
                occurred_at=1_700_000_000_000_000_000, source=Source("agent", "ag2"))
    return Envelope(**{**base, **changes})


@pytest.mark.parametrize("event_type", [
    "execution.message", "system.workflow_started", "ui.input_received", "integration.call",
    "x.acme.billing_check", "execution.tool_call.v2",
])
def test_accepts_event_types_of_the_grammar(event_type):
    assert make(event_type=event_type).event_type == event_type


@pytest.mark.parametrize("event_type", [
    "message", "Execution.message", "execution.", "acme.thing", "x.acme", "execution message", "", "execution..x",
])
def test_refuses_other_event_types_naming_the_field(event_type):
    with pytest.raises(EnvelopeError) as e:
        make(event_type=event_type)
    assert e.value.field == "event_type"


@pytest.mark.parametrize(("field", "value"), [
    ("event_id", "not-a-uuid"), ("correlation_id", ""), ("correlation_id", "x" * 257),
    ("occurred_at", -1), ("occurred_at", 1.5), ("trace_id", "abc"), ("trace_id", "0" * 32),
    ("span_id", "g" * 16), ("causation_id", "nope"), ("schema_version", 2), ("payload_json", "[1, 2]"),
    ("payload_json", "{not json"), ("seq", 0), ("hash", "ab"),
])
def test_invalid_fields_are_refused_with_their_name(field, value):
    with pytest.raises(EnvelopeError) as e:
        make(**{field: value})
    assert e.value.field.split(".")[0] in (field, "payload")
    assert isinstance(e.value, ValueError)


def test_source_origin_must_be_known():
    with pytest.raises(EnvelopeError, match="origin must be one of agent, system, ui, integration"):
        Source("robot", "custom")


def test_payload_is_canonical_so_equal_facts_compare_equal():
    a = make(payload_json='{"b": 1, "a": [1, 2.5, "é"]}')
    b = make(event_id=a.event_id, payload_json='{"a":[1,2.5,"é"],"b":1}')
    assert a.payload_json == '{"a":[1,2.5,"é"],"b":1}'
    assert a == b
    assert a.payload == {"a": [1, 2.5, "é"], "b": 1}


def test_envelope_is_immutable_including_through_payload():
    env = Envelope.create("system.task_scheduled", correlation_id="r", payload={"k": [1]})
    with pytest.raises(dataclasses.FrozenInstanceError):
        env.correlation_id = "other"  # type: ignore[misc]
    env.payload["k"].append(2)
    assert env.payload == {"k": [1]}


def test_payload_size_limit_says_what_to_do():
    with pytest.raises(EnvelopeError, match="store large content elsewhere"):
        Envelope.create("system.x_y", correlation_id="r", payload={"blob": "x" * MAX_PAYLOAD_BYTES})


def test_create_refuses_what_json_cannot_hold():
    with pytest.raises(EnvelopeError, match="not JSON-serialisable"):
        Envelope.create("system.task_scheduled", correlation_id="r", payload={"obj": object()})
    with pytest.raises(EnvelopeError):
        Envelope.create("system.task_scheduled", correlation_id="r", payload={"nan": float("nan")})


def test_uuid7_is_version_7_time_ordered_and_strictly_increasing():
    ids = [uuid7() for _ in range(5000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    parsed = uuid.UUID(ids[0])
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    import time

    assert abs(uuid7_unix_ms(ids[-1]) - time.time() * 1000) < 5000


def test_uuid7_random_bits_differ_between_a_parent_and_its_forked_child():
    import os

    uuid7()  # the parent has a block of random bytes in hand
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, uuid7().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    parent = uuid7()
    assert child[19:] != parent[19:]  # the 62 random bits (and variant) in the last groups
