"""``configure()``: one call that sets up OpenTelemetry for facts.

Embedded: ``configure(ledger=PATH)`` (the default when no endpoint is given:
``$CHATSNAPSHOT_LEDGER``, else ``./chatsnapshot-ledger``) makes ``record()``
commit facts straight into a ledger in this process, through
``LedgerSpanExporter`` (``transport="spans"``, the default) or
``LedgerLogExporter`` (``transport="logs"``).

Remote: ``configure(endpoint="http://receiver:4317")`` sends them over OTLP
(``protocol="grpc"``, or ``"http/protobuf"`` to port 4318) through the durable
spool at ``spool_dir`` (default ``./chatsnapshot-spool``; see
``exporter.spool``), with ``token`` as the bearer token and ``headers``; over TLS
for an ``https://`` endpoint or with ``ca_file`` (``client_cert_file`` and
``client_key_file`` for mTLS).

Arguments beat the environment (``CHATSNAPSHOT_LEDGER``,
``CHATSNAPSHOT_ENDPOINT``, ``CHATSNAPSHOT_PROTOCOL``, ``CHATSNAPSHOT_SPOOL_DIR``,
``CHATSNAPSHOT_TOKEN``, ``CHATSNAPSHOT_TRANSPORT``, ``OTEL_SERVICE_NAME``), which
beats the defaults. With no endpoint and no ledger given and no
``CHATSNAPSHOT_ENDPOINT``, the OpenTelemetry exporter variables
(``OTEL_EXPORTER_OTLP_ENDPOINT`` and the rest, as the OTel SDKs read them; see
``instrumentation.remote``) choose the remote mode: an app container given only
``OTEL_*`` variables sends to the receiver they name. ``configure`` says which it
chose in one log line (logger ``chatsnapshot``, INFO).

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
import logging
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

from chatsnapshot.environment_variables import (
    CHATSNAPSHOT_SPOOL_DIR,
    CHATSNAPSHOT_TRANSPORT,
    DEFAULT_SPOOL,
    ledger_path,
)
from chatsnapshot.exporter.spooling import SpoolingOTLPLogExporter, SpoolingOTLPSpanExporter, Tls
from chatsnapshot.instrumentation.remote import resolve
from chatsnapshot.ledger.store import Store

__all__ = ["Pipeline", "configure", "current_pipeline"]

log = logging.getLogger("chatsnapshot")

Transport = Literal["spans", "logs"]

_QUEUE = 65_536
_DELAY_MS = 200
_BATCH = 512
_SCOPE = "chatsnapshot"

_lock = threading.Lock()
_current: Pipeline | None = None


@dataclass
class Pipeline:
    """What ``configure`` set up. ``tracer``/``logger`` are what ``record()`` emits through;
    ``destination`` is the ledger directory or the endpoint."""

    transport: Transport
    destination: str
    tracer_provider: TracerProvider | None = None
    logger_provider: LoggerProvider | None = None
    exporter: Any = None

    def __post_init__(self) -> None:
        self.tracer: Any = self.tracer_provider.get_tracer(_SCOPE) if self.tracer_provider else None
        self.logger: Any = self.logger_provider.get_logger(_SCOPE) if self.logger_provider else None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Wait until every fact recorded so far is durable: committed to the ledger, or
        written to the spool (see ``delivered`` for the receiver's acknowledgement)."""
        provider = self.tracer_provider or self.logger_provider
        return bool(provider.force_flush(timeout_millis)) if provider is not None else True

    def delivered(self, timeout_millis: int = 30_000) -> bool:
        """Remote only: wait until the receiver acknowledged everything spooled so far."""
        self.force_flush(timeout_millis)
        flush = getattr(self.exporter, "force_flush", None)
        return bool(flush(timeout_millis)) if flush is not None else True

    def shutdown(self) -> None:
        for provider in (self.tracer_provider, self.logger_provider):
            if provider is not None:
                provider.shutdown()


def configure(*, ledger: str | Path | Store | None = None, endpoint: str | None = None,
              protocol: str | None = None, transport: Transport | None = None, spool_dir: str | Path | None = None,
              service_name: str | None = None, token: str | None = None, headers: dict[str, str] | None = None,
              spool_max_bytes: int = 256 << 20, spool_policy: str = "block", ca_file: str | None = None,
              client_cert_file: str | None = None, client_key_file: str | None = None) -> Pipeline:
    """Set up the pipeline ``record()`` uses; see the module docstring. Raises ``ValueError``
    for a bad argument."""
    env = os.environ
    transport = transport or env.get(CHATSNAPSHOT_TRANSPORT) or "spans"  # type: ignore[assignment]
    if transport not in ("spans", "logs"):
        raise ValueError(f"transport must be 'spans' or 'logs', got {transport!r}")
    if ledger is not None and endpoint is not None:
        raise ValueError("give ledger= (embedded) or endpoint= (remote), not both")
    tls = (Tls(ca_file, client_cert_file, client_key_file)
           if ca_file or client_cert_file or client_key_file else None)
    remote = None if ledger is not None else resolve(transport, endpoint=endpoint, protocol=protocol, token=token,
                                                       headers=headers, tls=tls)
    resource = Resource.create({"service.name": service_name} if service_name else {})
    exporter: Any
    if remote is not None:
        cls = SpoolingOTLPSpanExporter if transport == "spans" else SpoolingOTLPLogExporter
        spool = spool_dir or env.get(CHATSNAPSHOT_SPOOL_DIR) or DEFAULT_SPOOL
        exporter = cls(remote.endpoint, spool, protocol=remote.protocol, headers=remote.headers, token=remote.token,
                       max_bytes=spool_max_bytes, policy=spool_policy, tls=remote.tls,  # type: ignore[arg-type]
                       url_is_full=remote.url_is_full)
        destination = remote.endpoint
        log.info("chatsnapshot: facts go to %s over %s%s (%s), spooled in %s", remote.endpoint, remote.protocol,
                 " with TLS" if remote.tls is not None else "", remote.chosen_by, spool)
    else:
        from chatsnapshot.exporter.ledger_exporters import LedgerLogExporter, LedgerSpanExporter

        ledger = ledger_path(ledger) if ledger is None or isinstance(ledger, str | Path) else ledger
        exporter = LedgerSpanExporter(ledger) if transport == "spans" else LedgerLogExporter(ledger)
        destination = str(ledger if isinstance(ledger, str | Path) else ledger.path)
        log.info("chatsnapshot: facts go to the embedded ledger %s (no endpoint configured)", destination)
    if transport == "spans":
        tracer_provider = TracerProvider(resource=resource)
        tracer_provider.add_span_processor(BatchSpanProcessor(
            exporter, max_queue_size=_QUEUE, schedule_delay_millis=_DELAY_MS, max_export_batch_size=_BATCH))
        pipeline = Pipeline("spans", destination, tracer_provider=tracer_provider, exporter=exporter)
    else:
        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(
            exporter, max_queue_size=_QUEUE, schedule_delay_millis=_DELAY_MS, max_export_batch_size=_BATCH))
        pipeline = Pipeline("logs", destination, logger_provider=logger_provider, exporter=exporter)
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
