"""Envelope <-> JSON form and Envelope <-> protobuf, both lossless.

JSON form (docs/format.md): one object with exactly the keys ``event_id``,
``event_type``, ``schema_version``, ``occurred_at``, ``recorded_at`` (RFC 3339,
nanoseconds, ``Z``), ``source`` (``origin``, ``runtime``, ``service``,
``agent``), ``correlation_id``, ``causation_id``, ``trace_id``, ``span_id``,
``parent_span_id``, ``seq``, ``position``, ``payload`` (an object), ``prev_hash``,
``hash``, ``payload_salt`` and ``payload_digest`` (hex or null; ``ledger.records``) and
``cause_id`` (the cause as the reader resolved it; ``ledger.causes``).

On input, the fields the ledger assigns are ignored (``keep_assigned=True``
keeps them, for a lossless round trip of stored envelopes); ``schema_version``
defaults to 1; ``source.service``, ``source.agent``, ``causation_id`` and the
OTel anchors may be null or absent. ``fact_from_json`` also accepts a *bare
fact*, where ``event_id`` (a new UUIDv7), ``occurred_at`` (the time in the
event_id when it is a UUIDv7, else now) and ``source`` (system/custom) may be
left out. Unknown keys are refused, so a misspelt field
is an error rather than silently lost.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from chatsnapshot.errors import EnvelopeError
from chatsnapshot.ledger.envelope import SCHEMA_VERSION, Envelope, Source, canonical_json
from chatsnapshot.ledger.ids import uuid7, uuid7_unix_ms, uuid_bytes, uuid_text
from chatsnapshot.ledger.timestamps import format_rfc3339_ns, parse_rfc3339_ns

if TYPE_CHECKING:
    from chatsnapshot.proto.chatsnapshot.v1 import envelope_pb2

__all__ = [
    "envelope_from_json",
    "envelope_from_proto",
    "envelope_to_json",
    "envelope_to_proto",
    "fact_from_json",
]

_ASSIGNED = ("recorded_at", "seq", "position", "prev_hash", "hash", "payload_salt", "payload_digest", "cause_id")
_KEYS = frozenset((
    "event_id", "event_type", "schema_version", "occurred_at", "source", "correlation_id", "causation_id",
    "trace_id", "span_id", "parent_span_id", "payload", *_ASSIGNED,
))
_SOURCE_KEYS = frozenset(("origin", "runtime", "service", "agent"))


def envelope_to_json(e: Envelope) -> dict[str, Any]:
    """The JSON form of an envelope, as a dict ready for ``json.dumps``."""
    s = e.source
    return {
        "event_id": e.event_id,
        "event_type": e.event_type,
        "schema_version": e.schema_version,
        "occurred_at": format_rfc3339_ns(e.occurred_at),
        "recorded_at": None if e.recorded_at is None else format_rfc3339_ns(e.recorded_at),
        "source": {"origin": s.origin, "runtime": s.runtime, "service": s.service, "agent": s.agent},
        "correlation_id": e.correlation_id,
        "causation_id": e.causation_id,
        "trace_id": e.trace_id,
        "span_id": e.span_id,
        "parent_span_id": e.parent_span_id,
        "seq": e.seq,
        "position": e.position,
        "payload": json.loads(e.payload_json),
        "prev_hash": e.prev_hash,
        "hash": e.hash,
        "payload_salt": e.payload_salt,
        "payload_digest": e.payload_digest,
        "cause_id": e.cause_id,
    }


def envelope_from_json(obj: object, *, keep_assigned: bool = False) -> Envelope:
    """A JSON-form envelope -> ``Envelope``. Raises ``EnvelopeError``."""
    return _from_json(obj, bare=False, keep_assigned=keep_assigned)


def fact_from_json(obj: object) -> Envelope:
    """A JSON-form envelope or bare fact -> a new, unstored ``Envelope``."""
    return _from_json(obj, bare=True, keep_assigned=False)


def _from_json(obj: object, *, bare: bool, keep_assigned: bool) -> Envelope:
    if not isinstance(obj, dict):
        raise EnvelopeError(f"an envelope must be a JSON object, got {type(obj).__name__}")
    unknown = obj.keys() - _KEYS
    if unknown:
        raise EnvelopeError(
            f"unknown field(s) {', '.join(sorted(map(str, unknown)))}; expected some of {', '.join(sorted(_KEYS))}",
            field=sorted(map(str, unknown))[0],
        )
    for name in ("event_type", "correlation_id") + (() if bare else ("event_id", "occurred_at", "source")):
        if obj.get(name) is None:
            raise EnvelopeError(f"{name} is required", field=name)
    payload = obj.get("payload", {})
    if not isinstance(payload, dict):
        raise EnvelopeError(f"payload must be a JSON object, got {type(payload).__name__}", field="payload")
    occurred = obj.get("occurred_at")
    if occurred is None and isinstance(obj.get("event_id"), str):
        # A UUIDv7 says when it was made: the same fact appended twice keeps the same time.
        ms = uuid7_unix_ms(obj["event_id"].lower())
        occurred = None if ms is None else ms * 1_000_000
    assigned: dict[str, Any] = {}
    if keep_assigned:
        recorded = obj.get("recorded_at")
        assigned = {
            "recorded_at": None if recorded is None else _time("recorded_at", recorded),
            "seq": obj.get("seq"), "position": obj.get("position"),
            "prev_hash": obj.get("prev_hash"), "hash": obj.get("hash"),
            "payload_salt": obj.get("payload_salt"), "payload_digest": obj.get("payload_digest"),
            "cause_id": obj.get("cause_id"),
        }
    return Envelope(
        event_id=obj.get("event_id") or uuid7(),
        event_type=obj["event_type"],
        correlation_id=obj["correlation_id"],
        occurred_at=time.time_ns() if occurred is None else _time("occurred_at", occurred),
        source=_source(obj.get("source")),
        payload_json=canonical_json(payload),
        causation_id=obj.get("causation_id"),
        trace_id=obj.get("trace_id"),
        span_id=obj.get("span_id"),
        parent_span_id=obj.get("parent_span_id"),
        schema_version=SCHEMA_VERSION if obj.get("schema_version") is None else obj["schema_version"],
        **assigned,
    )


def _time(name: str, value: object) -> int:
    if type(value) is int:
        return value
    if isinstance(value, str):
        try:
            return parse_rfc3339_ns(value)
        except ValueError as e:
            raise EnvelopeError(f"{name}: {e}", field=name) from e
    raise EnvelopeError(f"{name} must be an RFC 3339 string or integer nanoseconds, got {value!r}", field=name)


def _source(value: object) -> Source:
    if value is None:
        return Source("system", "custom")
    if not isinstance(value, dict):
        raise EnvelopeError(f"source must be an object, got {type(value).__name__}", field="source")
    unknown = value.keys() - _SOURCE_KEYS
    if unknown:
        raise EnvelopeError(f"unknown source field(s) {', '.join(sorted(map(str, unknown)))}", field="source")
    for name in ("origin", "runtime"):
        if value.get(name) is None:
            raise EnvelopeError(f"source.{name} is required", field=f"source.{name}")
    return Source(value["origin"], value["runtime"], value.get("service"), value.get("agent"))


def envelope_to_proto(e: Envelope) -> envelope_pb2.Envelope:
    """``Envelope`` -> protobuf message (unassigned fields left at their zero value)."""
    from chatsnapshot.proto.chatsnapshot.v1 import envelope_pb2  # protobuf loads only when used

    s = e.source
    msg = envelope_pb2.Envelope(
        event_id=uuid_bytes(e.event_id),
        event_type=e.event_type,
        schema_version=e.schema_version,
        occurred_at_unix_nano=e.occurred_at,
        recorded_at_unix_nano=e.recorded_at or 0,
        source=envelope_pb2.Source(origin=s.origin, runtime=s.runtime, service=s.service, agent=s.agent),
        correlation_id=e.correlation_id,
        causation_id=uuid_bytes(e.causation_id) if e.causation_id else b"",
        trace_id=bytes.fromhex(e.trace_id or ""),
        span_id=bytes.fromhex(e.span_id or ""),
        parent_span_id=bytes.fromhex(e.parent_span_id or ""),
        seq=e.seq or 0,
        position=e.position or 0,
        payload_json=e.payload_json,
        prev_hash=bytes.fromhex(e.prev_hash or ""),
        hash=bytes.fromhex(e.hash or ""),
        payload_salt=bytes.fromhex(e.payload_salt or ""),
        payload_digest=bytes.fromhex(e.payload_digest or ""),
        cause_id=uuid_bytes(e.cause_id) if e.cause_id else b"",
    )
    return msg


def envelope_from_proto(msg: envelope_pb2.Envelope) -> Envelope:
    """Protobuf message -> ``Envelope``, validated. Zero values mean absent."""
    if len(msg.event_id) != 16:
        raise EnvelopeError(f"event_id must be 16 bytes, got {len(msg.event_id)}", field="event_id")
    if msg.causation_id and len(msg.causation_id) != 16:
        raise EnvelopeError(f"causation_id must be 16 bytes, got {len(msg.causation_id)}", field="causation_id")
    src = msg.source
    return Envelope(
        event_id=uuid_text(msg.event_id),
        event_type=msg.event_type,
        correlation_id=msg.correlation_id,
        occurred_at=msg.occurred_at_unix_nano,
        source=Source(
            src.origin, src.runtime,
            src.service if src.HasField("service") else None,
            src.agent if src.HasField("agent") else None,
        ),
        payload_json=msg.payload_json or "{}",
        causation_id=uuid_text(msg.causation_id) if msg.causation_id else None,
        trace_id=msg.trace_id.hex() or None,
        span_id=msg.span_id.hex() or None,
        parent_span_id=msg.parent_span_id.hex() or None,
        schema_version=msg.schema_version,
        recorded_at=msg.recorded_at_unix_nano or None,
        seq=msg.seq or None,
        position=msg.position or None,
        prev_hash=msg.prev_hash.hex() or None,
        hash=msg.hash.hex() or None,
        payload_salt=msg.payload_salt.hex() or None,
        payload_digest=msg.payload_digest.hex() or None,
        cause_id=uuid_text(msg.cause_id) if len(msg.cause_id) == 16 else None,
    )
