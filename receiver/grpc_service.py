"""OTLP/gRPC: TraceService, LogsService and MetricsService on a real grpcio server.

Handlers take the request as raw bytes and parse them themselves: grpcio's own
deserializer answers a malformed message with INTERNAL, where contract 6 wants
INVALID_ARGUMENT. grpcio enforces the size limit (``max_receive_message_length``
applies to the decompressed message) with RESOURCE_EXHAUSTED. Every other
failure is answered through ``receiver.status`` (retryable ones with RetryInfo).

Export is registered as a request-streaming method (the wire is the same as a
unary call's: one message on the stream) so that the handler runs before the
message is read: the token is checked and the request admitted
(``Ingest.admit``, by the running average size) first, and a request that is
refused is answered without its body ever being read into the process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from chatsnapshot.errors import BadRequest, DeadlineExpired, Unauthenticated
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
        handler: grpc.RpcMethodHandler[bytes, Any] = grpc.stream_unary_rpc_method_handler(
            _export(signal, ingest, auth),
            request_deserializer=None,  # raw bytes: we parse, so we choose the error code
            response_serializer=lambda m: m.SerializeToString(),
        )
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, {"Export": handler}),))
        health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)


def _export(signal: Signal, ingest: Ingest,
            auth: Authenticator) -> Callable[[Iterator[bytes], grpc.ServicerContext], Any]:
    metrics = ingest.metrics

    def handle(messages: Iterator[bytes], context: grpc.ServicerContext) -> Any:
        try:
            if not auth.allows(dict(context.invocation_metadata()).get("authorization")):
                raise Unauthenticated("missing or wrong bearer token")
            remaining = context.time_remaining()
            ticket = ingest.admit(None if remaining is None else time.monotonic() + remaining)
            try:
                body = next(messages, None)  # only now is the body read
            except grpc.RpcError:  # the client went away (cancelled, or its deadline passed) while sending it
                ticket.release()
                raise DeadlineExpired("the client went away before its request arrived; nothing was committed") \
                    from None
            except BaseException:
                ticket.release()
                raise
            if body is None:
                ticket.release()
                raise BadRequest(f"an OTLP {signal} export carries one request message; this call had none")
            outcome = ingest.export(signal, body, ticket=ticket)
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
