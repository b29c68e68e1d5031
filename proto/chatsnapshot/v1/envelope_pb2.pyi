from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Source(_message.Message):
    __slots__ = ("origin", "runtime", "service", "agent")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    origin: str
    runtime: str
    service: str
    agent: str
    def __init__(self, origin: _Optional[str] = ..., runtime: _Optional[str] = ..., service: _Optional[str] = ..., agent: _Optional[str] = ...) -> None: ...

class Envelope(_message.Message):
    __slots__ = ("event_id", "event_type", "schema_version", "occurred_at_unix_nano", "recorded_at_unix_nano", "source", "correlation_id", "causation_id", "trace_id", "span_id", "parent_span_id", "seq", "position", "payload_json", "prev_hash", "hash", "payload_salt", "payload_digest", "cause_id")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    CAUSATION_ID_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_SALT_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_DIGEST_FIELD_NUMBER: _ClassVar[int]
    CAUSE_ID_FIELD_NUMBER: _ClassVar[int]
    event_id: bytes
    event_type: str
    schema_version: int
    occurred_at_unix_nano: int
    recorded_at_unix_nano: int
    source: Source
    correlation_id: str
    causation_id: bytes
    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    seq: int
    position: int
    payload_json: str
    prev_hash: bytes
    hash: bytes
    payload_salt: bytes
    payload_digest: bytes
    cause_id: bytes
    def __init__(self, event_id: _Optional[bytes] = ..., event_type: _Optional[str] = ..., schema_version: _Optional[int] = ..., occurred_at_unix_nano: _Optional[int] = ..., recorded_at_unix_nano: _Optional[int] = ..., source: _Optional[_Union[Source, _Mapping]] = ..., correlation_id: _Optional[str] = ..., causation_id: _Optional[bytes] = ..., trace_id: _Optional[bytes] = ..., span_id: _Optional[bytes] = ..., parent_span_id: _Optional[bytes] = ..., seq: _Optional[int] = ..., position: _Optional[int] = ..., payload_json: _Optional[str] = ..., prev_hash: _Optional[bytes] = ..., hash: _Optional[bytes] = ..., payload_salt: _Optional[bytes] = ..., payload_digest: _Optional[bytes] = ..., cause_id: _Optional[bytes] = ...) -> None: ...

class EnvelopeBatch(_message.Message):
    __slots__ = ("envelopes",)
    ENVELOPES_FIELD_NUMBER: _ClassVar[int]
    envelopes: _containers.RepeatedCompositeFieldContainer[Envelope]
    def __init__(self, envelopes: _Optional[_Iterable[_Union[Envelope, _Mapping]]] = ...) -> None: ...
