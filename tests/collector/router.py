"""A stand-in for the Collector's ``loadbalancing`` exporter (``routing_key: attributes``), which
the Go module proxy here does not serve: an OTLP/gRPC endpoint that sends each span, with its
resource and scope, to the receiver its routing key picks, and answers OK only once every
receiver it sent to answered OK (else UNAVAILABLE: the client re-sends, and the receivers'
idempotency makes the parts that did arrive harmless). Routing key: the span's
``chatsnapshot.correlation_id`` attribute, else its trace id; the receiver: the key's SHA-256
modulo the number of receivers (the exporter uses a consistent-hash ring; with a fixed set of
receivers both are a fixed function of the key).

    python tests/collector/router.py LISTEN_PORT RECEIVER [RECEIVER ...]      # prints READY
"""

from __future__ import annotations

import hashlib
import sys
from concurrent import futures

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from chatsnapshot.proto import attributes as A

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def key_of(span) -> bytes:
    for kv in span.attributes:
        if kv.key == A.CORRELATION_ID:
            return kv.value.string_value.encode()
    return bytes(span.trace_id)


def split(request, n: int) -> dict[int, trace_service_pb2.ExportTraceServiceRequest]:
    parts: dict[int, trace_service_pb2.ExportTraceServiceRequest] = {}
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                target = int.from_bytes(hashlib.sha256(key_of(span)).digest()[:8], "big") % n
                part = parts.setdefault(target, trace_service_pb2.ExportTraceServiceRequest())
                if not part.resource_spans or part.resource_spans[-1].resource != rs.resource:
                    part.resource_spans.add(resource=rs.resource, schema_url=rs.schema_url)
                out_rs = part.resource_spans[-1]
                if not out_rs.scope_spans or out_rs.scope_spans[-1].scope != ss.scope:
                    out_rs.scope_spans.add(scope=ss.scope, schema_url=ss.schema_url)
                out_rs.scope_spans[-1].spans.append(span)
    return parts


def main() -> None:
    port, receivers = int(sys.argv[1]), sys.argv[2:]
    calls = [grpc.insecure_channel(r).unary_unary(EXPORT, request_serializer=None, response_deserializer=None)
             for r in receivers]

    def export(body: bytes, context: grpc.ServicerContext) -> bytes:
        request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
        metadata = tuple(m for m in context.invocation_metadata() if m[0] == "authorization")
        for target, part in sorted(split(request, len(calls)).items()):
            try:
                calls[target](part.SerializeToString(), timeout=10, metadata=metadata)
            except grpc.RpcError as e:
                context.abort(grpc.StatusCode.UNAVAILABLE, f"receiver {receivers[target]}: {e.code().name}")
        return trace_service_pb2.ExportTraceServiceResponse().SerializeToString()

    server = grpc.server(futures.ThreadPoolExecutor(8))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "opentelemetry.proto.collector.trace.v1.TraceService",
        {"Export": grpc.unary_unary_rpc_method_handler(export)}),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print("READY", flush=True)
    sys.stdin.read()
    server.stop(1)


if __name__ == "__main__":
    main()
