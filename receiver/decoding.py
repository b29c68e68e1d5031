"""Request bytes to OTLP messages: protobuf or OTLP/JSON, strict first, lenient on bad UTF-8.

``decode(signal, body, content_type)`` returns a ``Decoded`` request or raises
``BadRequest`` (the transport answers INVALID_ARGUMENT / 400). Decompression and
its size limit belong to the transport (``receiver.http_service``); this module sees
the plain bytes.

Invalid UTF-8 (contract 6): protobuf refuses a whole message when one string
field holds invalid UTF-8. Rather than drop the request, ``decode`` parses it
again with a copy of the OTLP schema in which every ``string`` is ``bytes``
(same wire format), replaces the bad sequences with U+FFFD, and re-encodes it;
``Decoded.replaced_utf8`` tells promotion to flag what it stores.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from chatsnapshot.errors import BadRequest
from chatsnapshot.receiver.otlp import REQUEST_TYPES, Signal

__all__ = ["Decoded", "decode"]


@dataclass(frozen=True, slots=True)
class Decoded:
    request: Any  # ExportTraceServiceRequest | ExportLogsServiceRequest | ExportMetricsServiceRequest
    replaced_utf8: bool = False


def decode(signal: Signal, body: bytes, content_type: str = "application/x-protobuf") -> Decoded:
    """Parse ``body`` as the OTLP request of ``signal``; JSON when ``content_type`` says so."""
    cls = REQUEST_TYPES[signal]
    if content_type.split(";")[0].strip().lower() == "application/json":
        try:
            text, replaced = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, replaced = body.decode("utf-8", errors="replace"), True
        message, lone_surrogates = _from_json(cls, text)
        return Decoded(message, replaced_utf8=replaced or lone_surrogates)
    try:
        return Decoded(cls.FromString(body))
    except DecodeError as strict_error:
        if signal == "metrics":  # accepted and discarded: no need to repair them
            raise BadRequest(f"not a valid OTLP {signal} request: {strict_error}") from None
        try:
            return Decoded(cls.FromString(_repair_utf8(signal, body)), replaced_utf8=True)
        except DecodeError:
            raise BadRequest(f"not a valid OTLP {signal} request (protobuf): {strict_error}") from None


# -- OTLP/JSON --------------------------------------------------------------------

# OTLP/JSON writes these ids as hex, where protobuf's JSON mapping expects base64; their length in bytes.
_HEX_IDS = {"traceId": 16, "spanId": 8, "parentSpanId": 8}


def _from_json(cls: type[Message], text: str) -> tuple[Message, bool]:
    """The message, and whether lone surrogates (``"\\ud800"``: invalid UTF-8 in JSON form) were replaced."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise BadRequest(f"request body is not JSON: {e}") from None
    if not isinstance(document, dict):
        raise BadRequest("an OTLP/JSON request must be a JSON object")
    _check(document, cls.DESCRIPTOR, "")  # type: ignore[arg-type]  # upb: the same Descriptor
    replaced = "\\u" in text and _replace_surrogates(document)
    try:
        return json_format.ParseDict(document, cls(), ignore_unknown_fields=True), replaced
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as e:
        raise BadRequest(f"not a valid OTLP/JSON request: {e}") from None


def _replace_surrogates(node: Any) -> bool:
    """Replace lone surrogates in every string of ``node`` (in place) by U+FFFD; whether any was."""
    found = False
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                node[key] = value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
                found = True
        elif isinstance(value, dict | list):
            found |= _replace_surrogates(value)
    return found


def _check(node: dict[str, Any], descriptor: Descriptor, path: str) -> None:
    """Walk an OTLP/JSON object against its message type, in place, as the OTLP specification
    says: keys are lowerCamelCase (a snake_case field name is refused, naming the field to use),
    unknown keys are ignored (dropped), trace and span ids are hex of their exact length (turned
    into the base64 protobuf's JSON mapping reads), and a value that should be an object or a
    list must be one. Raises ``BadRequest`` naming the field by its path."""
    fields = {f.json_name: f for f in descriptor.fields}
    snake = {f.name: f.json_name for f in descriptor.fields if f.name != f.json_name}
    for key in list(node):
        where = f"{path}.{key}" if path else key
        field = fields.get(key)
        if field is None:
            if key in snake:
                raise BadRequest(f"{where}: OTLP/JSON field names are lowerCamelCase: use {snake[key]!r}")
            del node[key]  # unknown: ignored, as the specification requires
            continue
        value = node[key]
        if value is None:
            continue
        if key in _HEX_IDS and field.type == FieldDescriptor.TYPE_BYTES:
            node[key] = _hex_id(value, _HEX_IDS[key], where)
        elif field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type is not None:
            kind = field.message_type
            if field.is_repeated:
                if not isinstance(value, list):
                    raise BadRequest(f"{where}: expected a list, got {_kind(value)}")
                for n, item in enumerate(value):
                    if not isinstance(item, dict):
                        raise BadRequest(f"{where}[{n}]: expected an object ({kind.name}), got {_kind(item)}")
                    _check(item, kind, f"{where}[{n}]")
            else:
                if not isinstance(value, dict):
                    raise BadRequest(f"{where}: expected an object ({kind.name}), got {_kind(value)}")
                _check(value, kind, where)


def _hex_id(value: object, size: int, where: str) -> str:
    if value == "":
        return ""
    if not isinstance(value, str) or len(value) != 2 * size:
        raise BadRequest(f"{where}: expected {2 * size} hex digits ({size} bytes), got {str(value)[:40]!r}")
    try:
        return base64.b64encode(bytes.fromhex(value)).decode()
    except ValueError:
        raise BadRequest(f"{where}: expected {2 * size} hex digits ({size} bytes), got {value[:40]!r}") from None


def _kind(value: object) -> str:
    return {str: "a string", bool: "a boolean", int: "a number", float: "a number", list: "a list",
            dict: "an object"}.get(type(value), type(value).__name__)


# -- lenient protobuf ---------------------------------------------------------------

_SCHEMA_FILES = (common_pb2, resource_pb2, trace_pb2, logs_pb2, trace_service_pb2, logs_service_pb2)


@cache
def _lenient() -> tuple[dict[Signal, type[Message]], frozenset[str]]:
    """Request classes whose string fields are bytes, and the names of those fields."""
    pool = descriptor_pool.DescriptorPool()
    was_string: set[str] = set()
    for module in _SCHEMA_FILES:
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        stack = [(proto.package, m) for m in proto.message_type]
        while stack:
            scope, message = stack.pop()
            name = f"{scope}.{message.name}"
            stack.extend((name, m) for m in message.nested_type)
            for field in message.field:
                if field.type == descriptor_pb2.FieldDescriptorProto.TYPE_STRING:
                    field.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
                    was_string.add(f"{name}.{field.name}")
        pool.Add(proto)
    classes: dict[Signal, type[Message]] = {
        signal: message_factory.GetMessageClass(pool.FindMessageTypeByName(cls.DESCRIPTOR.full_name))
        for signal, cls in REQUEST_TYPES.items() if signal != "metrics"
    }
    return classes, frozenset(was_string)


def _repair_utf8(signal: Signal, body: bytes) -> bytes:
    classes, was_string = _lenient()
    message = classes[signal].FromString(body)  # raises DecodeError when the bytes are not protobuf at all
    _fix(message, was_string)
    return message.SerializeToString()


def _fix(message: Message, was_string: frozenset[str]) -> None:
    for field, value in message.ListFields():
        if field.full_name in was_string:
            if field.is_repeated:
                value[:] = [_valid(v) for v in value]
            else:
                setattr(message, field.name, _valid(value))
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            for item in value if field.is_repeated else (value,):
                _fix(item, was_string)


def _valid(raw: bytes) -> bytes:
    return raw.decode("utf-8", errors="replace").encode("utf-8")
