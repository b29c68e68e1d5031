"""The OTLP vocabulary both transports share: signals, request types, gRPC service
names and the Export responses.

Transport-free: the gRPC and HTTP services, the forwarder and the spool's sender
import it; it imports no transport.
"""

from __future__ import annotations

from typing import Any, Literal

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

__all__ = ["EXPORT_SERVICES", "REQUEST_TYPES", "SIGNALS", "Signal", "export_method", "export_response"]

Signal = Literal["traces", "logs", "metrics"]
SIGNALS: tuple[Signal, ...] = ("traces", "logs", "metrics")

REQUEST_TYPES: dict[Signal, type[Message]] = {
    "traces": trace_service_pb2.ExportTraceServiceRequest,
    "logs": logs_service_pb2.ExportLogsServiceRequest,
    "metrics": metrics_service_pb2.ExportMetricsServiceRequest,
}

# The OTLP gRPC services, by signal; each has one method, Export.
EXPORT_SERVICES: dict[Signal, str] = {
    "traces": trace_service_pb2.DESCRIPTOR.services_by_name["TraceService"].full_name,
    "logs": logs_service_pb2.DESCRIPTOR.services_by_name["LogsService"].full_name,
    "metrics": metrics_service_pb2.DESCRIPTOR.services_by_name["MetricsService"].full_name,
}


def export_method(signal: Signal) -> str:
    """The gRPC method path of ``signal``'s Export call."""
    return f"/{EXPORT_SERVICES[signal]}/Export"


def export_response(signal: Signal, rejected: int = 0, message: str = "") -> Any:
    """The Export response for ``signal``: empty, or ``partial_success`` counting ``rejected`` facts
    and saying why (a message with nothing rejected is a warning, as the OTLP spec allows)."""
    if signal == "traces":
        return trace_service_pb2.ExportTraceServiceResponse(partial_success=trace_service_pb2.ExportTracePartialSuccess(
            rejected_spans=rejected, error_message=message) if rejected or message else None)
    if signal == "logs":
        return logs_service_pb2.ExportLogsServiceResponse(partial_success=logs_service_pb2.ExportLogsPartialSuccess(
            rejected_log_records=rejected, error_message=message) if rejected or message else None)
    return metrics_service_pb2.ExportMetricsServiceResponse()
