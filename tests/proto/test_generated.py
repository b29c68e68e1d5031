"""The committed generated modules match the .proto sources."""

from __future__ import annotations

from google.protobuf import descriptor_pb2

from chatsnapshot.proto.chatsnapshot.v1 import envelope_pb2, ledger_service_pb2
from chatsnapshot.proto.generate import descriptor_set, proto_sources


def test_generated_modules_are_current():
    compiled = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set())
    committed = {m.DESCRIPTOR.name: m.DESCRIPTOR for m in (envelope_pb2, ledger_service_pb2)}
    assert {f.name for f in compiled.file} == {str(p) for p in proto_sources()}
    for source in compiled.file:
        module = committed.get(source.name)
        assert module is not None, f"{source.name} has no generated module: run `make proto`"
        embedded = descriptor_pb2.FileDescriptorProto.FromString(module.serialized_pb)
        source.ClearField("source_code_info")
        _clear_json_names(source.message_type)  # protoc adds them to descriptor sets, gencode leaves them out
        assert embedded == source, f"{source.name} changed since its module was generated: run `make proto`"


def _clear_json_names(messages) -> None:
    for message in messages:
        for field in message.field:
            field.ClearField("json_name")
        _clear_json_names(message.nested_type)


def test_the_envelope_message_carries_every_field_of_the_design():
    names = {f.name for f in envelope_pb2.Envelope.DESCRIPTOR.fields}
    assert names == {
        "event_id", "event_type", "schema_version", "occurred_at_unix_nano", "recorded_at_unix_nano", "source",
        "correlation_id", "causation_id", "trace_id", "span_id", "parent_span_id", "seq", "position",
        "payload_json", "prev_hash", "hash",
        "payload_salt", "payload_digest",  # beyond the design: erasure that keeps the chain (docs/integrity.md)
        "cause_id",  # beyond the design: the cause resolved on read (docs/causes.md)
    }
