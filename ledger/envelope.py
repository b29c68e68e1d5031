"""The envelope: one immutable execution fact (schema_version 1; docs/format.md).

``Envelope`` is a frozen value. Constructing one validates every field and
normalises the payload to its canonical JSON text, so two envelopes that say the
same thing compare equal and hash the same. ``Envelope.create`` is the
convenient way to make a new fact (fresh UUIDv7, current time).

The fields the ledger assigns at commit (``recorded_at``, ``seq``, ``position``,
``prev_hash``, ``hash``, ``payload_salt``) are ``None`` on a fact that has not been
stored; the ledger ignores them on input. ``payload_digest`` is set only on an
envelope whose payload was erased (``erased``).

Limits (each error names the field and the limit): event_type 128 characters,
correlation_id 256, source strings 256, payload 1 MiB of canonical JSON.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from chatsnapshot.errors import EnvelopeError
from chatsnapshot.ledger import canonical
from chatsnapshot.ledger.canonical import canonical_text
from chatsnapshot.ledger.ids import canonical_uuid, is_lower_hex, uuid7
from chatsnapshot.ledger.timestamps import MAX_NS

__all__ = [
    "FORK_TYPE",
    "MAX_PAYLOAD_BYTES",
    "NAMESPACES",
    "ORIGINS",
    "RESERVED_RUN",
    "RESERVED_TYPE",
    "SCHEMA_VERSION",
    "Envelope",
    "Source",
    "canonical_json",
    "check_event_type",
    "check_not_reserved",
    "source_of",
]

SCHEMA_VERSION = 1
NAMESPACES = ("execution", "system", "ui", "integration", "x")
ORIGINS = ("agent", "system", "ui", "integration")
MAX_EVENT_TYPE = 128
MAX_TEXT = 256
MAX_PAYLOAD_BYTES = 1 << 20

_EVENT_TYPE = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+\Z")


def canonical_json(payload: Any) -> str:
    """The canonical text of a JSON value: sorted keys, no insignificant white
    space, non-ASCII kept as UTF-8, NaN and infinities refused.

    Raises ``EnvelopeError`` for a value that JSON cannot represent.
    """
    try:
        return canonical.dumps(payload)
    except (TypeError, ValueError) as e:
        raise EnvelopeError(f"payload is not JSON-serialisable: {e}", field="payload") from e


def _require_text(name: str, value: object, *, limit: int = MAX_TEXT, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value:
        raise EnvelopeError(f"{name} must be a non-empty string, got {value!r}", field=name)
    if len(value) > limit:
        raise EnvelopeError(f"{name} is {len(value)} characters; the limit is {limit}", field=name)


def _require_uuid(name: str, value: object, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise EnvelopeError(f"{name} must be a UUID string, got {value!r}", field=name)
    text = canonical_uuid(value)
    if text is None:
        raise EnvelopeError(
            f"{name} must be a UUID like 0190b6a2-7c4e-7d3a-9f1e-2b8c4d5e6f70, got {value!r}", field=name
        )
    return text


def _check_core(event_type: object, correlation_id: object, occurred_at: object) -> None:
    check_event_type(event_type)
    _require_text("correlation_id", correlation_id)
    _require_int("occurred_at", occurred_at, low=0, high=MAX_NS)


def _check_schema_version(value: object) -> None:
    if value != SCHEMA_VERSION:
        raise EnvelopeError(f"schema_version {value!r} is not supported; this ledger reads {SCHEMA_VERSION}",
                            field="schema_version")


def _require_hex(name: str, value: object, length: int) -> str | None:
    if value is None:
        return None
    text = value.lower() if isinstance(value, str) else None
    if text is None or not is_lower_hex(text, length) or text == "0" * length:
        raise EnvelopeError(f"{name} must be {length} hex digits, not all zero; got {value!r}", field=name)
    return text


def _require_int(name: str, value: object, *, low: int, high: int, optional: bool = False) -> None:
    if value is None and optional:
        return
    if type(value) is not int or not low <= value <= high:
        raise EnvelopeError(f"{name} must be an integer in [{low}, {high}], got {value!r}", field=name)


@dataclass(frozen=True, slots=True)
class Source:
    """Where a fact came from: ``origin`` (agent, system, ui, integration),
    ``runtime`` (ag2, ag2-classic, custom, none, ...), the OTel ``service`` and
    the ``agent`` name when known."""

    origin: str
    runtime: str
    service: str | None = None
    agent: str | None = None

    def __post_init__(self) -> None:
        if self.origin not in ORIGINS:
            raise EnvelopeError(
                f"source.origin must be one of {', '.join(ORIGINS)}; got {self.origin!r}", field="source.origin"
            )
        _require_text("source.runtime", self.runtime, limit=64)
        _require_text("source.service", self.service, optional=True)
        _require_text("source.agent", self.agent, optional=True)

    @classmethod
    def _trusted(cls, origin: str, runtime: str, service: str | None, agent: str | None) -> Source:
        """A source from stored, already validated values (the read path)."""
        src = object.__new__(cls)
        object.__setattr__(src, "origin", origin)
        object.__setattr__(src, "runtime", runtime)
        object.__setattr__(src, "service", service)
        object.__setattr__(src, "agent", agent)
        return src


@dataclass(frozen=True, slots=True)
class Envelope:
    """One execution fact. Immutable; validated on construction.

    ``occurred_at`` and ``recorded_at`` are UTC nanoseconds since the epoch.
    ``payload_json`` is the canonical JSON text of a JSON object; ``payload``
    parses it (a fresh dict on every access, so the envelope cannot be changed
    through it). Ids are text: UUIDs in canonical lowercase form, OTel ids,
    hashes and ``payload_salt`` as lowercase hex. ``payload_salt`` is the random
    salt the ledger's hash commits the payload with (``ledger.records``, format 2;
    None on a format-1 record and once the payload was erased).

    ``cause_id`` is not part of the fact: it is the event id of its cause as a
    reader resolved it (``ledger.causes``), which differs from ``causation_id`` only
    when that names a span whose first fact carries its producer's own id. None on
    an envelope no reader returned.
    """

    event_id: str
    event_type: str
    correlation_id: str
    occurred_at: int
    source: Source
    payload_json: str = "{}"
    causation_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    parent_span_id: str | None = None
    schema_version: int = SCHEMA_VERSION
    recorded_at: int | None = None
    seq: int | None = None
    position: int | None = None
    prev_hash: str | None = None
    hash: str | None = None
    payload_salt: str | None = None
    payload_digest: str | None = None
    cause_id: str | None = field(default=None, compare=False)  # set by readers (ledger.causes)

    def __post_init__(self) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "event_id", _require_uuid("event_id", self.event_id))
        _check_core(self.event_type, self.correlation_id, self.occurred_at)
        if not isinstance(self.source, Source):
            raise EnvelopeError(f"source must be a Source, got {type(self.source).__name__}", field="source")
        setattr_(self, "payload_json", _canonical_payload(self.payload_json))
        setattr_(self, "causation_id", _require_uuid("causation_id", self.causation_id, optional=True))
        setattr_(self, "cause_id", _require_uuid("cause_id", self.cause_id, optional=True))
        setattr_(self, "trace_id", _require_hex("trace_id", self.trace_id, 32))
        setattr_(self, "span_id", _require_hex("span_id", self.span_id, 16))
        setattr_(self, "parent_span_id", _require_hex("parent_span_id", self.parent_span_id, 16))
        _check_schema_version(self.schema_version)
        _require_int("recorded_at", self.recorded_at, low=0, high=MAX_NS, optional=True)
        _require_int("seq", self.seq, low=1, high=MAX_NS, optional=True)
        _require_int("position", self.position, low=1, high=MAX_NS, optional=True)
        for name, digits in (("prev_hash", 64), ("hash", 64), ("payload_salt", 32), ("payload_digest", 64)):
            value = getattr(self, name)
            if value is not None and not is_lower_hex(value, digits):
                raise EnvelopeError(f"{name} must be {digits} lowercase hex digits, got {value!r}", field=name)

    @classmethod
    def create(
        cls,
        event_type: str,
        *,
        correlation_id: str,
        payload: dict[str, Any] | None = None,
        origin: str = "system",
        runtime: str = "custom",
        service: str | None = None,
        agent: str | None = None,
        causation_id: str | None = None,
        event_id: str | None = None,
        occurred_at: int | None = None,
        trace_id: str | None = None,
        span_id: str | None = None,
        parent_span_id: str | None = None,
    ) -> Envelope:
        """A new fact: a fresh UUIDv7 and the current time unless given."""
        if payload is not None and not isinstance(payload, dict):
            raise EnvelopeError(f"payload must be a JSON object (dict), got {type(payload).__name__}", field="payload")
        text = canonical_json(payload or {})
        if len(text) > MAX_PAYLOAD_BYTES // 4 and len(text.encode()) > MAX_PAYLOAD_BYTES:
            _refuse_size(len(text.encode()))
        env = cls(
            event_id=event_id or uuid7(),
            event_type=event_type,
            correlation_id=correlation_id,
            occurred_at=time.time_ns() if occurred_at is None else occurred_at,
            source=Source(origin, runtime, service, agent),
            causation_id=causation_id,
            trace_id=trace_id,
            span_id=span_id,
            parent_span_id=parent_span_id,
        )
        object.__setattr__(env, "payload_json", text)  # canonical by construction: no second parse
        return env

    @classmethod
    def _promoted(cls, event_id: str, event_type: object, correlation_id: object, occurred_at: int,
                  source: Source, payload_json: object, causation_id: str | None, trace_id: str | None,
                  span_id: str | None, parent_span_id: str | None, *, ids_trusted: bool,
                  schema_version: object = SCHEMA_VERSION) -> Envelope:
        """Promotion's constructor (``receiver.promotion``): the same checks as the
        constructor for everything that came from outside, none for what
        promotion computed itself: the OTel anchors (hex of binary ids), a
        ``source`` from ``source_of``, and, with ``ids_trusted``, the event and
        causation ids (derived ones). Raises ``EnvelopeError``."""
        if not ids_trusted:
            event_id = _require_uuid("event_id", event_id)  # type: ignore[assignment]
            causation_id = _require_uuid("causation_id", causation_id, optional=True)
        _check_core(event_type, correlation_id, occurred_at)
        _check_schema_version(schema_version)
        return cls._trusted(event_id, event_type, correlation_id, occurred_at, source,
                            _canonical_payload(payload_json), causation_id, trace_id, span_id, parent_span_id,
                            SCHEMA_VERSION, None, None, None, None, None, None, None)

    @classmethod
    def _trusted(cls, *values: Any) -> Envelope:
        """Build an envelope from values the ledger itself stored and verified,
        in field order, skipping validation (the read path). Not for input from
        outside."""
        env = _new(cls)
        for set_field, value in zip(_SETTERS, values, strict=True):
            set_field(env, value)
        _SET_CAUSE(env, None)
        return env

    @property
    def payload(self) -> dict[str, Any]:
        """The payload as a new dict (parsed from ``payload_json``)."""
        return json.loads(self.payload_json)

    @property
    def erased(self) -> bool:
        """True when the payload was erased (``chatsnapshot erase``): ``payload`` is the
        erasure marker, and ``payload_digest`` what the hash still commits to."""
        return self.payload_digest is not None and self.payload_salt is None

    @property
    def stored(self) -> bool:
        """True when the ledger has assigned ``seq``, ``position`` and ``hash``."""
        return self.hash is not None

    def content(self) -> tuple[Any, ...]:
        """The producer-given fields: what must match for a re-delivery to be a
        duplicate rather than a conflict."""
        return (
            self.event_type, self.schema_version, self.occurred_at, self.source, self.correlation_id,
            self.causation_id, self.trace_id, self.span_id, self.parent_span_id, self.payload_json,
        )


_VALID_TYPES: set[str] = set()  # event types already checked: a small vocabulary in practice
_SOURCES: dict[tuple[Any, ...], Source] = {}  # validated sources: a small vocabulary in practice


def source_of(origin: object, runtime: object, service: object, agent: object) -> Source:
    """``Source(origin, runtime, service, agent)``, validated once per distinct value."""
    key = (origin, runtime, service, agent)
    try:
        return _SOURCES[key]
    except (KeyError, TypeError):  # TypeError: an unhashable value, which Source refuses below
        pass
    src = Source(origin, runtime, service, agent)  # type: ignore[arg-type]
    if len(_SOURCES) < 10_000:
        _SOURCES[key] = src
    return src


_new = object.__new__
# The slot descriptors' own setters: they bypass the frozen __setattr__, cheaply.
_SETTERS = tuple(getattr(Envelope, name).__set__ for name in Envelope.__slots__ if name != "cause_id")
_SET_CAUSE = vars(Envelope)["cause_id"].__set__


RESERVED_RUN = "chatsnapshot.erasures"  # where the ledger records erasures (ledger._engine.erasure)
RESERVED_TYPE = "system.erasure"
FORK_TYPE = "system.run_forked"  # the first fact of a forked run (ledger.fork)


def check_not_reserved(event_type: object, correlation_id: object) -> None:
    """Raise ``EnvelopeError`` for a fact only the ledger itself may write: an erasure record."""
    if event_type == RESERVED_TYPE or correlation_id == RESERVED_RUN:
        raise EnvelopeError(f"{RESERVED_TYPE} facts and the run {RESERVED_RUN} are written only by the ledger "
                            "(chatsnapshot erase); use another event type and correlation id",
                            field="event_type" if event_type == RESERVED_TYPE else "correlation_id")


def check_event_type(value: object) -> None:
    """Raise ``EnvelopeError`` unless ``value`` is a valid event type (see docs/format.md)."""
    if value in _VALID_TYPES:
        return
    if not isinstance(value, str) or not value:
        raise EnvelopeError(f"event_type must be a non-empty string, got {value!r}", field="event_type")
    if len(value) > MAX_EVENT_TYPE:
        raise EnvelopeError(f"event_type is {len(value)} characters; the limit is {MAX_EVENT_TYPE}", field="event_type")
    namespace = value.split(".", 1)[0]
    if not _EVENT_TYPE.match(value) or namespace not in NAMESPACES:
        raise EnvelopeError(
            f"event_type {value!r} is not a dotted lowercase name in a known namespace "
            f"({', '.join(n + '.*' for n in NAMESPACES[:-1])}); put others under x.<vendor>.<name>",
            field="event_type",
        )
    if namespace == "x" and value.count(".") < 2:
        raise EnvelopeError(f"event_type {value!r}: the x. namespace needs x.<vendor>.<name>", field="event_type")
    if len(_VALID_TYPES) < 10_000:
        _VALID_TYPES.add(value)


def _canonical_payload(text: object) -> str:
    if text == "{}":
        return "{}"
    if not isinstance(text, str):
        raise EnvelopeError(f"payload_json must be JSON text, got {type(text).__name__}", field="payload")
    if len(text) > MAX_PAYLOAD_BYTES:  # characters <= bytes: a cheap early refusal
        _refuse_size(len(text.encode()))
    try:
        value, canonical = canonical_text(text)
    except json.JSONDecodeError as e:
        raise EnvelopeError(f"payload is not valid JSON: {e}", field="payload") from e
    except (TypeError, ValueError) as e:
        raise EnvelopeError(f"payload is not JSON-serialisable: {e}", field="payload") from e
    if not isinstance(value, dict):
        raise EnvelopeError(f"payload must be a JSON object, got {type(value).__name__}", field="payload")
    size = len(canonical.encode())
    if size > MAX_PAYLOAD_BYTES:
        _refuse_size(size)
    return canonical


def _refuse_size(size: int) -> None:
    raise EnvelopeError(
        f"payload is {size} bytes of JSON; the limit is {MAX_PAYLOAD_BYTES}: "
        "store large content elsewhere and put a reference in the payload",
        field="payload",
    )
