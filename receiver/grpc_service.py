"""OTLP/gRPC: TraceService, LogsService and MetricsService on a real grpcio server.

Handlers take the request as raw bytes and parse them themselves: grpcio's own
deserializer answers a malformed message with INTERNAL, where contract 6 wants
INVALID_ARGUMENT. grpcio enforces the size limit (``max_receive_message_length``
applies to the decompressed message) with RESOURCE_EXHAUSTED. Retryable
failures carry RetryInfo in both ``grpc-status-details-bin`` (a
``google.rpc.Status``) and ``google.rpc.retryinfo-bin`` (the form the Python
OTLP exporter reads).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from chatsnapshot.receiver.auth import Authenticator
from chatsnapshot.receiver.decoding import EXPORT_SERVICES, BadRequest, Signal
from chatsnapshot.receiver.ingest import Ingest, Outcome, RetryLater

__all__ = ["add_services", "export_response", "retry_trailers"]

log = logging.getLogger("chatsnapshot.receiver")

def export_response(signal: Signal, outcome: Outcome) -> Any:
    """The Export response for ``signal``: empty, or ``partial_success`` counting rejected facts."""
    if signal == "traces":
        return trace_service_pb2.ExportTraceServiceResponse(partial_success=trace_service_pb2.ExportTracePartialSuccess(
            rejected_spans=outcome.rejected, error_message=outcome.message) if outcome.rejected else None)
    if signal == "logs":
        return logs_service_pb2.ExportLogsServiceResponse(partial_success=logs_service_pb2.ExportLogsPartialSuccess(
            rejected_log_records=outcome.rejected, error_message=outcome.message) if outcome.rejected else None)
    return metrics_service_pb2.ExportMetricsServiceResponse()


def retry_trailers(message: str, delay: float) -> tuple[tuple[str, bytes], ...]:
    """The trailing metadata that tells a gRPC client when to retry."""
    info = error_details_pb2.RetryInfo(retry_delay=Duration(seconds=int(delay), nanos=int(delay % 1 * 1e9)))
    status = status_pb2.Status(code=code_pb2.UNAVAILABLE, message=message)
    status.details.add().Pack(info)
    return (("grpc-status-details-bin", status.SerializeToString()),
            ("google.rpc.retryinfo-bin", info.SerializeToString()))


def add_services(server: grpc.Server, ingest: Ingest, auth: Authenticator,
                 health_servicer: health.HealthServicer) -> None:
    """Register the OTLP export services and ``grpc.health.v1`` on ``server``."""
    for signal, service in EXPORT_SERVICES.items():
        handler = grpc.unary_unary_rpc_method_handler(
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
        if not auth.allows(dict(context.invocation_metadata()).get("authorization")):
            metrics.add("requests", signal=signal, transport="grpc", outcome="unauthenticated")
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")
        try:
            outcome = ingest.export(signal, body)
        except BadRequest as e:
            metrics.add("requests", signal=signal, transport="grpc", outcome="invalid")
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        except RetryLater as e:
            metrics.add("requests", signal=signal, transport="grpc", outcome="unavailable")
            context.set_trailing_metadata(retry_trailers(str(e), e.retry_after))
            context.abort(grpc.StatusCode.UNAVAILABLE, str(e))
        except Exception:  # a bug: answered and logged, never fatal
            log.exception("internal error handling an OTLP %s request", signal)
            metrics.add("requests", signal=signal, transport="grpc", outcome="internal")
            context.abort(grpc.StatusCode.INTERNAL, "internal error in the receiver; see its log")
        metrics.add("requests", signal=signal, transport="grpc", outcome="ok")
        return export_response(signal, outcome)

    return handle
