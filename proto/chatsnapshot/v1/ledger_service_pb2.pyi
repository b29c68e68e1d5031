from chatsnapshot.proto.chatsnapshot.v1 import envelope_pb2 as _envelope_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReplayRequest(_message.Message):
    __slots__ = ("correlation_id", "after_seq")
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    correlation_id: str
    after_seq: int
    def __init__(self, correlation_id: _Optional[str] = ..., after_seq: _Optional[int] = ...) -> None: ...

class TailRequest(_message.Message):
    __slots__ = ("after_position", "from_end")
    AFTER_POSITION_FIELD_NUMBER: _ClassVar[int]
    FROM_END_FIELD_NUMBER: _ClassVar[int]
    after_position: int
    from_end: bool
    def __init__(self, after_position: _Optional[int] = ..., from_end: _Optional[bool] = ...) -> None: ...

class VerifyRequest(_message.Message):
    __slots__ = ("correlation_id",)
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    correlation_id: str
    def __init__(self, correlation_id: _Optional[str] = ...) -> None: ...

class ChainBreak(_message.Message):
    __slots__ = ("correlation_id", "seq", "reason")
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    correlation_id: str
    seq: int
    reason: str
    def __init__(self, correlation_id: _Optional[str] = ..., seq: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class FileProblem(_message.Message):
    __slots__ = ("file", "reason")
    FILE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    file: str
    reason: str
    def __init__(self, file: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class VerifyResponse(_message.Message):
    __slots__ = ("ok", "correlations", "envelopes", "breaks", "problems")
    OK_FIELD_NUMBER: _ClassVar[int]
    CORRELATIONS_FIELD_NUMBER: _ClassVar[int]
    ENVELOPES_FIELD_NUMBER: _ClassVar[int]
    BREAKS_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    correlations: int
    envelopes: int
    breaks: _containers.RepeatedCompositeFieldContainer[ChainBreak]
    problems: _containers.RepeatedCompositeFieldContainer[FileProblem]
    def __init__(self, ok: _Optional[bool] = ..., correlations: _Optional[int] = ..., envelopes: _Optional[int] = ..., breaks: _Optional[_Iterable[_Union[ChainBreak, _Mapping]]] = ..., problems: _Optional[_Iterable[_Union[FileProblem, _Mapping]]] = ...) -> None: ...

class CheckpointRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CheckpointResponse(_message.Message):
    __slots__ = ("note",)
    NOTE_FIELD_NUMBER: _ClassVar[int]
    note: str
    def __init__(self, note: _Optional[str] = ...) -> None: ...

class RunsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RunSummary(_message.Message):
    __slots__ = ("correlation_id", "first_occurred_at", "last_occurred_at", "envelopes", "event_types", "last_event_type", "last_seq", "conversation_id", "forked_from")
    class EventTypesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    ENVELOPES_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    LAST_EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    FORKED_FROM_FIELD_NUMBER: _ClassVar[int]
    correlation_id: str
    first_occurred_at: int
    last_occurred_at: int
    envelopes: int
    event_types: _containers.ScalarMap[str, int]
    last_event_type: str
    last_seq: int
    conversation_id: str
    forked_from: str
    def __init__(self, correlation_id: _Optional[str] = ..., first_occurred_at: _Optional[int] = ..., last_occurred_at: _Optional[int] = ..., envelopes: _Optional[int] = ..., event_types: _Optional[_Mapping[str, int]] = ..., last_event_type: _Optional[str] = ..., last_seq: _Optional[int] = ..., conversation_id: _Optional[str] = ..., forked_from: _Optional[str] = ...) -> None: ...

class RunsResponse(_message.Message):
    __slots__ = ("runs",)
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[RunSummary]
    def __init__(self, runs: _Optional[_Iterable[_Union[RunSummary, _Mapping]]] = ...) -> None: ...

class SqlRequest(_message.Message):
    __slots__ = ("query",)
    QUERY_FIELD_NUMBER: _ClassVar[int]
    query: str
    def __init__(self, query: _Optional[str] = ...) -> None: ...

class SqlResponse(_message.Message):
    __slots__ = ("arrow_ipc_stream", "json_columns")
    ARROW_IPC_STREAM_FIELD_NUMBER: _ClassVar[int]
    JSON_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    arrow_ipc_stream: bytes
    json_columns: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, arrow_ipc_stream: _Optional[bytes] = ..., json_columns: _Optional[_Iterable[str]] = ...) -> None: ...

class ProveRequest(_message.Message):
    __slots__ = ("event_id", "checkpoint")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    checkpoint: str
    def __init__(self, event_id: _Optional[str] = ..., checkpoint: _Optional[str] = ...) -> None: ...

class ProveResponse(_message.Message):
    __slots__ = ("proof_json",)
    PROOF_JSON_FIELD_NUMBER: _ClassVar[int]
    proof_json: str
    def __init__(self, proof_json: _Optional[str] = ...) -> None: ...
