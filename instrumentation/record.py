"""``record()`` and ``correlation()``: facts from any code, as OTel span events or log records.

``record(event_type, ...)`` validates its arguments (a bad one raises
``ValueError`` saying what to change), then emits one fact through the OTel
providers: those ``chatsnapshot.configure()`` set up, else the global ones the
program set up (the global logger provider when ``CHATSNAPSHOT_TRANSPORT=logs``).
With neither, it configures itself from ``CHATSNAPSHOT_LEDGER`` or
``CHATSNAPSHOT_ENDPOINT`` when one is set, and otherwise says once (a warning
naming ``configure()`` and ``OTEL_TRACES_EXPORTER=chatsnapshot``) that facts go
nowhere: never silently. It returns the fact's ``event_id`` (a UUIDv7). Export
trouble never reaches the caller: it is the exporters' business, logged once.

Transport ``spans`` (default): the fact is an event on a span of its own, a
child of the active span, ended at once, so it never waits for a long-lived
span to end. Transport ``logs``: a log record with
``event_name``, in the active span's context. Either way the attributes are
those of ``chatsnapshot.proto.attributes``, and the same call gives the
same envelope.

Which correlation, first that applies: the ``correlation_id`` argument; the
innermost ``with correlation(...)``; ``chatsnapshot.correlation_id`` in the OTel
baggage (a caller's, carried across a service boundary); the active span's trace
id; the fact's own id (a fact with no context is a run of one).

Which cause, first that applies: the ``causation_id`` argument; the previous
fact recorded in the same context (thread or asyncio task) for the same
correlation; otherwise none: the fact is sent as a root (``record()`` gives its
facts their own ids, so the receiver's parentage rule could only point at a
fact that does not exist).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from opentelemetry import baggage, trace
from opentelemetry import context as otel_context

from chatsnapshot.environment_variables import CHATSNAPSHOT_ENDPOINT, CHATSNAPSHOT_LEDGER, CHATSNAPSHOT_TRANSPORT
from chatsnapshot.errors import EnvelopeError
from chatsnapshot.ledger.envelope import MAX_PAYLOAD_BYTES, ORIGINS, Envelope, canonical_json, check_event_type
from chatsnapshot.ledger.ids import uuid7
from chatsnapshot.proto import attributes as A

__all__ = ["correlation", "current_correlation", "record"]

log = logging.getLogger("chatsnapshot")

_correlation: contextvars.ContextVar[str | None] = contextvars.ContextVar("chatsnapshot_correlation", default=None)
_last_fact: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("chatsnapshot_last_fact",
                                                                                    default=None)
_SCOPE = "chatsnapshot"
_warned: set[str] = set()
_configuring = threading.Lock()


@contextlib.contextmanager
def correlation(id: str | None = None) -> Iterator[str]:
    """Facts recorded inside belong to correlation ``id`` (a new UUIDv7 when None), which is yielded.

    The correlation also travels: inside the block the OTel baggage carries
    ``chatsnapshot.correlation_id`` (and, once a fact was recorded, ``chatsnapshot.causation_id``:
    the last fact's id), so a call to another service with the default propagators takes it
    along beside ``traceparent``, and that service's baggage span processor puts it on its
    spans, where promotion reads it: the run stays one across services (docs/recording.md)."""
    value = id if id is not None else uuid7()
    if not isinstance(value, str) or not value or len(value) > 256:
        raise ValueError(f"correlation id must be a non-empty string of at most 256 characters, got {id!r}")
    token = _correlation.set(value)
    last = _last_fact.set(None)
    carried = otel_context.attach(baggage.remove_baggage(A.CAUSATION_ID, baggage.set_baggage(A.CORRELATION_ID, value)))
    try:
        yield value
    finally:
        otel_context.detach(carried)  # also drops what record() added to the baggage inside
        _last_fact.reset(last)
        _correlation.reset(token)


def current_correlation() -> str | None:
    """The correlation set by the innermost ``correlation()`` block, if any."""
    return _correlation.get()


def record(
    event_type: str,
    *,
    correlation_id: str | None = None,
    payload: dict[str, Any] | None = None,
    causation_id: str | None = None,
    origin: str = "system",
    runtime: str = "custom",
    event_id: str | None = None,
    agent: str | None = None,
) -> str:
    """Emit one fact; returns its ``event_id``. See the module docstring."""
    attributes, event_id, correlation_id = _attributes(event_type, correlation_id, payload, causation_id, origin,
                                                       runtime, event_id, agent)
    try:
        _emit(event_type, attributes, time.time_ns())
    except Exception as e:  # never into the host program
        _warn_once("emit", "could not emit a fact (%s); further failures of this kind are not logged", e)
    _last_fact.set((correlation_id, event_id))
    if _correlation.get() is not None:  # inside correlation(): calls out from here are caused by this fact
        otel_context.attach(baggage.set_baggage(A.CAUSATION_ID, event_id))
    return event_id


def _attributes(event_type: str, correlation_id: str | None, payload: dict[str, Any] | None,
                causation_id: str | None, origin: str, runtime: str, event_id: str | None,
                agent: str | None) -> tuple[dict[str, Any], str, str]:
    try:
        check_event_type(event_type)
    except EnvelopeError as e:
        raise ValueError(str(e)) from None
    if payload is not None and not isinstance(payload, dict):
        raise ValueError(f"payload must be a dict (a JSON object), got {type(payload).__name__}")
    text = canonical_json(payload) if payload else "{}"  # EnvelopeError (a ValueError) when not JSON-safe
    if len(text) > MAX_PAYLOAD_BYTES // 4 and len(text.encode()) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload is over {MAX_PAYLOAD_BYTES} bytes of JSON; store large content elsewhere "
                         "and put a reference in the payload")
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {', '.join(ORIGINS)}, got {origin!r}")
    if not isinstance(runtime, str) or not runtime or len(runtime) > 64:
        raise ValueError(f"runtime must be a short non-empty string, got {runtime!r}")
    event_id = _uuid("event_id", event_id) if event_id is not None else uuid7()
    for name, value in (("correlation_id", correlation_id), ("agent", agent)):
        if value is not None and (not isinstance(value, str) or not value or len(value) > 256):
            raise ValueError(f"{name} must be a non-empty string of at most 256 characters, got {value!r:.80}")
    correlation_id = correlation_id or _correlation.get() or _carried_correlation() or _trace_correlation() or event_id
    if causation_id is not None:
        causation_id = _uuid("causation_id", causation_id)
    else:
        last = _last_fact.get()
        if last is not None and last[0] == correlation_id:
            causation_id = last[1]
    attributes: dict[str, Any] = {
        A.EVENT_TYPE: event_type, A.EVENT_ID: event_id, A.CORRELATION_ID: correlation_id,
        A.SOURCE_ORIGIN: origin, A.SOURCE_RUNTIME: runtime, A.PAYLOAD: text,
    }
    attributes[A.CAUSATION_ID] = causation_id or ""  # "": explicitly a root
    if agent is not None:
        attributes[A.SOURCE_AGENT] = agent
    return attributes, event_id, correlation_id


def emit_envelope(envelope: Envelope) -> None:
    """Emit a fact made elsewhere (a fork's copies, ``ledger.fork``) as ``record()`` emits one:
    its id, cause, source and payload as given, at its own ``occurred_at``."""
    s = envelope.source
    attributes: dict[str, Any] = {
        A.EVENT_TYPE: envelope.event_type, A.EVENT_ID: envelope.event_id, A.CORRELATION_ID: envelope.correlation_id,
        A.SOURCE_ORIGIN: s.origin, A.SOURCE_RUNTIME: s.runtime, A.PAYLOAD: envelope.payload_json,
        A.CAUSATION_ID: envelope.causation_id or "",
    }
    if s.agent is not None:
        attributes[A.SOURCE_AGENT] = s.agent
    _emit(envelope.event_type, attributes, envelope.occurred_at)


def _uuid(name: str, value: object) -> str:
    import uuid

    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ValueError(f"{name} must be a UUID, got {value!r}") from None


def _carried_correlation() -> str | None:
    """The correlation a caller in another service put in the baggage (see ``correlation``)."""
    value = baggage.get_baggage(A.CORRELATION_ID)
    return value if isinstance(value, str) and 0 < len(value) <= 256 else None


def _trace_correlation() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def _emit(event_type: str, attributes: dict[str, Any], now: int) -> None:
    from chatsnapshot.instrumentation.configuration import current_pipeline

    pipeline = current_pipeline()
    if pipeline is None and not _global_providers_set():
        pipeline = _configure_from_environment()
        if pipeline is None:
            _warn_once("unconfigured", "chatsnapshot.record(): no pipeline is configured, so facts go nowhere. Call "
                       "chatsnapshot.configure(ledger=...) or configure(endpoint=...) first, set %s or %s, or run "
                       "under opentelemetry-instrument with OTEL_TRACES_EXPORTER=chatsnapshot",
                       CHATSNAPSHOT_LEDGER, CHATSNAPSHOT_ENDPOINT)
            return
    if pipeline is not None and pipeline.transport == "logs":
        pipeline.logger.emit(timestamp=now, observed_timestamp=now, event_name=event_type, attributes=attributes)
        return
    if pipeline is None and os.environ.get(CHATSNAPSHOT_TRANSPORT) == "logs":
        from opentelemetry._logs import get_logger

        get_logger(_SCOPE).emit(timestamp=now, observed_timestamp=now, event_name=event_type, attributes=attributes)
        return
    tracer = pipeline.tracer if pipeline is not None else trace.get_tracer(_SCOPE)
    # The correlation on the span too: a router keyed on span attributes (the Collector's loadbalancing
    # exporter, routing_key: attributes) sends every fact of a run to the same receiver.
    span = tracer.start_span(event_type, start_time=now, attributes={A.CORRELATION_ID: attributes[A.CORRELATION_ID]})
    span.add_event(event_type, attributes, timestamp=now)
    span.end(end_time=now)


def _global_providers_set() -> bool:
    """Whether the program set up OTel itself (an SDK provider, e.g. under opentelemetry-instrument)."""
    if os.environ.get(CHATSNAPSHOT_TRANSPORT) == "logs":
        from opentelemetry._logs import NoOpLoggerProvider, get_logger_provider
        from opentelemetry._logs._internal import ProxyLoggerProvider  # not re-exported; what "unset" looks like

        return not isinstance(get_logger_provider(), NoOpLoggerProvider | ProxyLoggerProvider)
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def _configure_from_environment() -> Any:
    """``configure()`` from ``CHATSNAPSHOT_LEDGER`` / ``CHATSNAPSHOT_ENDPOINT`` when either is set, once."""
    if not (os.environ.get(CHATSNAPSHOT_LEDGER) or os.environ.get(CHATSNAPSHOT_ENDPOINT)):
        return None
    from chatsnapshot.instrumentation.configuration import configure, current_pipeline

    with _configuring:
        pipeline = current_pipeline()
        if pipeline is None:
            pipeline = configure()
            log.info("chatsnapshot.record(): configured from the environment: facts go to %s", pipeline.destination)
        return pipeline


def _warn_once(key: str, message: str, *args: object) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning(message, *args)
