"""``configure()``: one call that sets up OpenTelemetry for facts.

``configure(ledger=PATH)`` (the default: ``$CHATSNAPSHOT_LEDGER``, else
``./chatsnapshot-ledger``) makes ``record()`` commit facts straight into an
embedded ledger through ``LedgerSpanExporter`` (``transport="spans"``, the
default) or ``LedgerLogExporter`` (``transport="logs"``). Arguments beat the
environment (``CHATSNAPSHOT_LEDGER``, ``CHATSNAPSHOT_TRANSPORT``,
``OTEL_SERVICE_NAME``), which beats the defaults.

The providers are ChatSnapshot's own: ``configure`` does not replace the
application's global OTel providers (an application that already exports traces
keeps doing so). ``record()`` uses them; without ``configure()``, it uses the
global providers (e.g. those ``opentelemetry-instrument`` sets up).

Facts are batched (200 ms) and the queue holds 65,536 of them: the SDK drops
what does not fit, so a program recording faster than the ledger commits for
long will lose facts; ``Pipeline.force_flush()`` waits for what is queued.
Calling ``configure`` again replaces the previous pipeline (flushing it first);
at exit the pipeline is flushed and shut down.
"""

from __future__ import annotations

import atexit
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from chatsnapshot.environment_variables import CHATSNAPSHOT_LEDGER, DEFAULT_LEDGER
from chatsnapshot.ledger import Ledger

__all__ = ["CHATSNAPSHOT_TRANSPORT", "Pipeline", "configure", "current_pipeline"]

CHATSNAPSHOT_TRANSPORT = "CHATSNAPSHOT_TRANSPORT"
Transport = Literal["spans", "logs"]

_QUEUE = 65_536
_DELAY_MS = 200
_BATCH = 512
_SCOPE = "chatsnapshot"

_lock = threading.Lock()
_current: Pipeline | None = None


@dataclass
class Pipeline:
    """What ``configure`` set up. ``tracer``/``logger`` are what ``record()`` emits through."""

    transport: Transport
    ledger_path: Path
    tracer_provider: TracerProvider | None = None
    logger_provider: LoggerProvider | None = None

    def __post_init__(self) -> None:
        self.tracer: Any = self.tracer_provider.get_tracer(_SCOPE) if self.tracer_provider else None
        self.logger: Any = self.logger_provider.get_logger(_SCOPE) if self.logger_provider else None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Wait until every fact recorded so far is exported (committed, for a ledger)."""
        provider = self.tracer_provider or self.logger_provider
        return bool(provider.force_flush(timeout_millis)) if provider is not None else True

    def shutdown(self) -> None:
        for provider in (self.tracer_provider, self.logger_provider):
            if provider is not None:
                provider.shutdown()


def configure(*, ledger: str | Path | Ledger | None = None, transport: Transport | None = None,
              service_name: str | None = None) -> Pipeline:
    """Set up the pipeline ``record()`` uses; see the module docstring. Raises ``ValueError``
    for a bad argument."""
    from chatsnapshot.exporter.ledger_exporters import LedgerLogExporter, LedgerSpanExporter

    transport = transport or os.environ.get(CHATSNAPSHOT_TRANSPORT) or "spans"  # type: ignore[assignment]
    if transport not in ("spans", "logs"):
        raise ValueError(f"transport must be 'spans' or 'logs', got {transport!r}")
    if ledger is None:
        ledger = os.environ.get(CHATSNAPSHOT_LEDGER) or DEFAULT_LEDGER
    path = ledger.path if isinstance(ledger, Ledger) else Path(ledger)
    resource = Resource.create({"service.name": service_name} if service_name else {})
    if transport == "spans":
        tracer_provider = TracerProvider(resource=resource)
        tracer_provider.add_span_processor(BatchSpanProcessor(
            LedgerSpanExporter(ledger), max_queue_size=_QUEUE, schedule_delay_millis=_DELAY_MS,
            max_export_batch_size=_BATCH))
        pipeline = Pipeline("spans", path, tracer_provider=tracer_provider)
    else:
        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(
            LedgerLogExporter(ledger), max_queue_size=_QUEUE, schedule_delay_millis=_DELAY_MS,
            max_export_batch_size=_BATCH))
        pipeline = Pipeline("logs", path, logger_provider=logger_provider)
    _install(pipeline)
    return pipeline


def current_pipeline() -> Pipeline | None:
    return _current


def _install(pipeline: Pipeline | None) -> None:
    global _current
    with _lock:
        previous, _current = _current, pipeline
    if previous is not None:
        previous.force_flush()
        previous.shutdown()


atexit.register(lambda: _install(None))
