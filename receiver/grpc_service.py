"""OTLP/gRPC: TraceService, LogsService and MetricsService on a real grpcio server.

Handlers take the request as raw bytes and parse them themselves: grpcio's own
deserializer answers a malformed message with INTERNAL, where contract 6 wants
INVALID_ARGUMENT. grpcio enforces the size limit (``max_receive_message_length``
applies to the decompressed message) with RESOURCE_EXHAUSTED. Every other
failure is answered through ``receiver.status`` (retryable ones with RetryInfo).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from chatsnapshot.errors import Unauthenticated
from chatsnapshot.receiver.auth import Authenticator
from chatsnapshot.receiver.ingest import Ingest
from chatsnapshot.receiver.otlp import EXPORT_SERVICES, Signal, export_response
from chatsnapshot.receiver.status import retry_trailers, wire_status

__all__ = ["add_services"]

log = logging.getLogger("chatsnapshot.receiver")

def add_services(server: grpc.Server, ingest: Ingest, auth: Authenticator,
                 health_servicer: health.HealthServicer) -> None:
    """Register the OTLP export services and ``grpc.health.v1`` on ``server``."""
    for signal, service in EXPORT_SERVICES.items():
        handler: grpc.RpcMethodHandler[bytes, Any] = grpc.unary_unary_rpc_method_handler(
            _export(signal, ingest, auth),
            request_deserializer=None,  # raw bytes: we parse, so we choose the error code
            response_serializer=lambda m: m.SerializeToString(),
        )
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, {"Export": handler}),))
        health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)


def _export(signal: Signal, ingest: Ingest, auth: Authenticator) -> Callable[[bytes, grpc.ServicerContext], Any]:
    metrics = ingest.metrics

    def handle(body: bytes, context: grpc.ServicerContext) -> Any:
        try:
            if not auth.allows(dict(context.invocation_metadata()).get("authorization")):
                raise Unauthenticated("missing or wrong bearer token")
            remaining = context.time_remaining()
            outcome = ingest.export(signal, body, deadline=None if remaining is None else time.monotonic() + remaining)
        except Exception as e:
            status = wire_status(e, ingest.retry_after)
            metrics.add("requests", signal=signal, transport="grpc", outcome=status.outcome)
            if status.grpc is grpc.StatusCode.INTERNAL:  # a bug: answered and logged, never fatal
                log.exception("internal error handling an OTLP %s request", signal)
                context.abort(status.grpc, "internal error in the receiver; see its log")
            if status.retry_after is not None:
                context.set_trailing_metadata(retry_trailers(str(e), status.retry_after))
            context.abort(status.grpc, str(e))
        metrics.add("requests", signal=signal, transport="grpc", outcome="ok")
        return export_response(signal, outcome.rejected, outcome.message)

    return handle
