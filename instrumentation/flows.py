"""What the AG2 instrumentors share: a run's recording state, operation spans, safe emission.

A ``Flow`` is one top-level run as the instrumentation sees it: its correlation
and its last fact. Every fact names its cause explicitly (``record()`` gives facts
their own ids, so parentage could not): by default the flow's previous fact, or
the fact the caller names (a tool result names its tool call). Nested chats and
delegated agents record into the same flow, so they share the correlation and
continue the causal chain; their spans tell them apart.

``Flow.emit`` never raises and never lets a payload break the conversation: the
payload is made JSON-safe first, and anything ``record()`` refuses is logged once
and dropped. ``Flow.span`` opens an operation span (run, turn, LLM call, tool,
human input) that the facts recorded inside become children of.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from opentelemetry import trace

from chatsnapshot.instrumentation.payloads import jsonable
from chatsnapshot.instrumentation.record import _correlation, _last_fact, record
from chatsnapshot.ledger.envelope import Envelope
from chatsnapshot.ledger.ids import uuid7
from chatsnapshot.ledger.ledger import Ledger
from chatsnapshot.proto import attributes as A

__all__ = ["Flow", "Switch", "current_flow", "elapsed_ms", "flow_scope", "mark_recorded", "recorded_facts",
           "span_tracer", "warn_once"]

log = logging.getLogger("chatsnapshot.instrumentation")

_SCOPE = "chatsnapshot.instrumentation"
_flow: contextvars.ContextVar[Flow | None] = contextvars.ContextVar("chatsnapshot_flow", default=None)
_warned: set[str] = set()


class Switch:
    """On while an instrumentor is instrumented; checked before every fact, so that
    ``uninstrument()`` stops recording even in objects that kept a reference to a hook."""

    def __init__(self, runtime: str) -> None:
        self.runtime = runtime
        self.on = False
        self.tracer_provider: Any = None


class Flow:
    """One run's correlation and causal chain; see the module docstring."""

    __slots__ = ("anchors", "correlation_id", "last", "switch")

    def __init__(self, switch: Switch, correlation_id: str | None = None, last: str | None = None) -> None:
        self.switch = switch
        self.correlation_id = correlation_id or _correlation.get() or uuid7()
        previous = _last_fact.get()  # the application's own last fact in this correlation, if any
        self.last = last if last is not None else (previous[1] if previous and previous[0] == self.correlation_id
                                                   else None)
        # facts a later fact names as its cause: the runtime's tool call id -> the tool_call fact,
        # a human input request id -> its request fact, "llm" -> the last LLM call fact
        self.anchors: dict[str, str] = {}

    def emit(self, event_type: str, payload: dict[str, Any], *, agent: str | None = None,
             cause: str | None = None, origin: str = "agent", chain: bool = True) -> str | None:
        """Record one fact caused by ``cause`` (default: this flow's last fact); its id, or None.
        ``chain=False``: a fact beside the chain (what a model is asked with): the next fact's
        cause stays the last one."""
        if not self.switch.on:
            return None
        try:
            event_id = record(event_type, correlation_id=self.correlation_id, payload=jsonable(payload),
                              causation_id=cause or self.last, origin=origin,
                              runtime=self.switch.runtime, agent=agent if agent else None)
        except Exception as e:  # a bug here must never break the conversation
            warn_once(event_type, "could not record a %s fact (%s: %s); the conversation goes on",
                       event_type, type(e).__name__, e)
            return None
        if chain:
            self.last = event_id
        return event_id

    @contextlib.contextmanager
    def span(self, name: str, **attributes: Any) -> Iterator[Any]:
        """An operation span, current inside the block (a no-op span when switched off)."""
        if not self.switch.on:
            yield trace.INVALID_SPAN
            return
        attributes = {k: v for k, v in attributes.items() if isinstance(v, str | bool | int | float)}
        attributes[A.CORRELATION_ID] = self.correlation_id
        attributes[A.RECORDED] = True
        mark_recorded()
        with span_tracer(self.switch).start_as_current_span(name, attributes=attributes) as span:
            yield span


def mark_recorded() -> None:
    """Tell span promotion rules that the current span's operation is recorded as facts
    (another instrumentation's span around ours; see ``attributes.RECORDED``)."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute(A.RECORDED, True)


def elapsed_ms(started: float) -> float:
    """Milliseconds since ``started`` (a ``time.perf_counter()`` reading), for ``duration_ms``."""
    return round((time.perf_counter() - started) * 1000, 3)


def current_flow() -> Flow | None:
    """The flow of the run this code is part of, if any."""
    return _flow.get()


@contextlib.contextmanager
def flow_scope(flow: Flow) -> Iterator[Flow]:
    """Make ``flow`` current (and its correlation, for the application's own ``record()`` calls)."""
    token = _flow.set(flow)
    correlation_token = _correlation.set(flow.correlation_id)
    try:
        yield flow
    finally:
        _correlation.reset(correlation_token)
        _flow.reset(token)


def recorded_facts(source: Ledger | str | Path | Iterable[Envelope] | None, correlation_id: str, *,
                   server: str | None = None) -> list[Envelope]:
    """The facts of ``correlation_id`` in ledger order, from a ledger, a ledger directory
    (opened read-only: it sees what a writer in any process has made durable), envelopes
    already replayed, or a running receiver (``server="HOST:PORT"``, with
    ``CHATSNAPSHOT_TOKEN`` as the bearer token). Facts this process recorded are flushed
    first (``configure()``'s pipeline: committed, or acknowledged by the receiver), so a
    run is readable the moment it ends. Raises ``LookupError`` when there are none, and when
    payloads of the run were erased (what they said is gone: a restored conversation would
    silently miss it)."""
    _flush_own_facts(remote=server is not None or not isinstance(source, Ledger))
    if server is not None:
        from chatsnapshot.environment_variables import CHATSNAPSHOT_TOKEN
        from chatsnapshot.receiver.client import LedgerClient

        with LedgerClient(server, token=os.environ.get(CHATSNAPSHOT_TOKEN)) as client:
            facts = list(client.replay(correlation_id))
    elif isinstance(source, Ledger):
        facts = list(source.replay(correlation_id))
    elif isinstance(source, str | Path):
        with Ledger.open(source, readonly=True) as ledger:
            facts = list(ledger.replay(correlation_id))
    elif source is None:
        raise ValueError("give the ledger (a Ledger or its directory), the replayed envelopes, or server=HOST:PORT")
    else:
        facts = sorted((e for e in source if e.correlation_id == correlation_id),
                       key=lambda e: (e.seq is None, e.seq or 0))
    if not facts:
        raise LookupError(f"no facts for correlation {correlation_id!r}: check the id (chatsnapshot runs lists them)")
    erased = [f.seq for f in facts if f.erased]
    if erased:
        raise LookupError(f"{len(erased)} fact(s) of correlation {correlation_id!r} were erased (seq "
                          f"{', '.join(map(str, erased[:5]))}{', ...' if len(erased) > 5 else ''}): the conversation "
                          "cannot be restored as it was")
    return facts


MODEL_PARAMETERS = ("model", "temperature", "top_p", "max_tokens", "seed", "frequency_penalty", "presence_penalty")


def model_inputs(flow: Flow, agent: str | None, system_prompt: list[str], tools: list[dict[str, Any]],
                 parameters: dict[str, Any]) -> str | None:
    """Record what ``agent``'s model is asked with (``execution.model_inputs``) when this run has
    not recorded the same yet; the id of the fact that holds them (None when switched off), for
    the LLM call to name."""
    import hashlib

    from chatsnapshot.ledger.envelope import canonical_json

    inputs = {"system_prompt": system_prompt, "tools": tools, "parameters": parameters}
    digest = hashlib.sha256(canonical_json(jsonable(inputs)).encode()).hexdigest()[:16]
    key = f"model_inputs:{agent}"
    if flow.anchors.get(key + ":digest") == digest:
        return flow.anchors.get(key)
    fact = flow.emit("execution.model_inputs", {"agent": agent, **inputs, "digest": digest}, agent=agent,
                     chain=False)
    if fact is not None:
        flow.anchors[key], flow.anchors[key + ":digest"] = fact, digest
    return fact


def forked_facts(facts: list[Envelope], upto_seq: int) -> list[Envelope]:
    """Fork the run ``facts`` at ``upto_seq`` (``ledger.fork``): the new run's facts are emitted
    through this process's pipeline, as ``record()`` emits (each at its original time), and
    flushed; returns the copies, which the new run's conversation continues from."""
    from chatsnapshot.instrumentation.record import emit_envelope
    from chatsnapshot.ledger.fork import fork_envelopes

    new = fork_envelopes(facts, upto_seq)
    for envelope in new:
        emit_envelope(envelope)
    _flush_own_facts(remote=False)
    return new[1:]


def _flush_own_facts(*, remote: bool) -> None:
    """Make what this process recorded readable: commit the embedded pipeline's queue, and
    (``remote``) wait for the receiver to acknowledge what the spool holds."""
    from chatsnapshot.instrumentation.configuration import current_pipeline

    pipeline = current_pipeline()
    if pipeline is not None and not (pipeline.delivered() if remote else pipeline.force_flush()):
        log.warning("chatsnapshot: what this process recorded is not all %s yet (%s): the run read now may "
                    "miss its last facts", "acknowledged by the receiver" if remote else "committed",
                    pipeline.destination)


def span_tracer(switch: Switch) -> Any:
    """The tracer for operation spans: the pipeline ``configure()`` set up, else the
    provider given to ``instrument(tracer_provider=...)``, else the global one."""
    from chatsnapshot.instrumentation.configuration import current_pipeline

    pipeline = current_pipeline()
    if pipeline is not None and pipeline.tracer is not None:
        return pipeline.tracer
    return trace.get_tracer(_SCOPE, tracer_provider=switch.tracer_provider)


def warn_once(key: str, message: str, *args: object) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning(message, *args)
