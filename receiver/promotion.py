"""Promotion: OTLP trace and log requests to envelopes.

One pure module, used by the receiver and by the in-process exporters alike:
``promote_traces(request)`` and ``promote_logs(request)`` return a ``Promotion``
(the envelopes, and the facts rejected with their reason).

Order: the envelopes of one request come out sorted by ``occurred_at`` (stable,
so ties keep request order). An SDK exports a span when it ends, so children
arrive before their parents; sorting makes a batch commit in the order things
happened. Across requests the ledger's order is arrival order, which is why
facts should ride on short spans.
No I/O, no clock except ``received_at`` for rejections.

Which facts
    A span event or log record carrying ``chatsnapshot.event_type`` (see
    ``chatsnapshot.proto.attributes``). With ``rules``, a span that
    matches a rule is a fact too (``promotion_rules``): it comes first among its
    span's facts.

Correlation
    ``chatsnapshot.correlation_id`` on the fact, else on its span, else the trace
    id: one run per trace, which every span of an agent invocation knows in any
    arrival order. A span's conversation (``gen_ai.conversation.id``, else
    ``session.id``) groups runs; a rule's span fact carries it as the payload's
    ``conversation_id``.

Identity (contract 2)
    ``event_id`` is the producer's. Otherwise it is derived from where the fact
    sits: ``derived_id(trace_id, span_id, k)`` for the k-th fact (0-based) of the
    span, a UUIDv8 (RFC 9562) made of SHA-256 over those values. A re-sent span
    yields the same ids; so does a log record re-sent (its id is derived from its
    span context, time, type and attributes).

Causation (contract 4), first that applies:
    1. the ``chatsnapshot.causation_id`` attribute (an empty string: explicitly none);
    2. the previous fact of the same span;
    2a. for the first fact of a span where a call came in (remote parent, or none),
       ``chatsnapshot.causation_id`` on the span: a caller in another service carried
       its current fact in the W3C baggage, and the service's baggage span processor
       copied it onto the span;
    3. the span's parent's first fact: ``derived_id(trace_id, parent_span_id, 0)``.
       A span's first fact whose id the producer did not give *is* that id, so the
       link is computed from the child alone: it does not depend on which
       requests brought which spans, in which order, nor wait for a long-lived
       parent span to end. When the parent span's first fact has a producer-given
       id, readers resolve the cause to it (``ledger.causes``; the stored cause
       stays this derived one); when the parent span carries no facts, the
       causation dangles, and the projections show it as such.
    A log record's fact is caused by the first fact of the span it was emitted in
    (``derived_id(trace_id, span_id, 0)``), unless it is that fact.
    No span context: no causation (a root).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from chatsnapshot.errors import EnvelopeError
from chatsnapshot.ledger.envelope import Envelope, canonical_json, check_not_reserved, source_of
from chatsnapshot.ledger.ids import FACT_ID_DOMAIN, canonical_uuid, derived_id, uuid8_of
from chatsnapshot.ledger.results import Rejection
from chatsnapshot.proto import attributes as A
from chatsnapshot.receiver.genai import INFERENCE_DETAILS_EVENT, event_facts, span_facts
from chatsnapshot.receiver.span_rules import Rules

__all__ = ["Promotion", "promote_logs", "promote_traces"]

_DEFAULT_ORIGIN = "system"
_DEFAULT_RUNTIME = "custom"


ATTRIBUTE_LIMIT = 128  # attributes read per span, span event or log record: the OTel SDKs' default count limit


@dataclass
class Promotion:
    envelopes: list[Envelope] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    dropped_attributes: int = 0  # attributes over ATTRIBUTE_LIMIT on the facts' events, records and spans


def promote_traces(request: Any, *, rules: Rules | None = None, replaced_utf8: bool = False) -> Promotion:
    """The facts of an ``ExportTraceServiceRequest``. ``replaced_utf8``: the request
    had invalid UTF-8 replaced by U+FFFD (``receiver.decoding``); facts showing the
    replacement get ``"chatsnapshot.invalid_utf8": true`` in their payload."""
    out = Promotion()
    for resource_spans in request.resource_spans:
        service = _service(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                _promote_span(span, service, rules, replaced_utf8, out)
    out.envelopes.sort(key=_occurred_at)
    return out


def promote_logs(request: Any, *, rules: Rules | None = None, replaced_utf8: bool = False) -> Promotion:
    """The facts of an ``ExportLogsServiceRequest``: log records carrying ``chatsnapshot.event_type``
    and, with ``rules``, the GenAI conventions' inference details events (``receiver.genai``)."""
    out = Promotion()
    for resource_logs in request.resource_logs:
        service = _service(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                attrs = _attributes(record.attributes)
                if A.EVENT_TYPE not in attrs:
                    if rules is not None and record.event_name == INFERENCE_DETAILS_EVENT:
                        _promote_inference_event(record, attrs, service, replaced_utf8, out)
                    continue
                trace, span = record.trace_id, record.span_id
                explicit = attrs.get(A.EVENT_ID)
                event_id = explicit if isinstance(explicit, str) else _log_id(record, attrs)
                cause = None
                if len(span) == 8 and len(trace) == 16:
                    anchor = derived_id(trace, span, 0)
                    cause = anchor if anchor != event_id else None
                when = record.time_unix_nano or record.observed_time_unix_nano
                _add(out, attrs, {}, event_id, cause, when, trace, span, None, service, replaced_utf8,
                     default_type=record.event_name or None, derived=not isinstance(explicit, str))
    out.envelopes.sort(key=_occurred_at)
    return out


def _promote_inference_event(record: Any, attrs: dict[str, Any], service: str | None, replaced: bool,
                             out: Promotion) -> None:
    """A model call's messages, recorded as a log-based event: the conversation facts, chained
    from the first, which the first fact of the span it was emitted in causes."""
    trace, span = record.trace_id, record.span_id
    when = record.time_unix_nano or record.observed_time_unix_nano
    base = _log_id(record, attrs)
    previous = derived_id(trace, span, 0) if len(span) == 8 and len(trace) == 16 else None
    for k, fact in enumerate(event_facts(attrs, trace, when)):
        event_id = fact.event_id or (base if k == 0 else uuid8_of(FACT_ID_DOMAIN + b"/log-fact/" + base.encode()
                                                                 + k.to_bytes(4, "big")))
        fields = {A.EVENT_TYPE: fact.event_type, A.SOURCE_ORIGIN: "agent", A.SOURCE_RUNTIME: "none",
                  A.PAYLOAD: fact.payload}
        _add(out, fields, attrs, event_id, previous, fact.at, trace, span, None, service, replaced)
        previous = event_id


def _occurred_at(envelope: Envelope) -> int:
    return envelope.occurred_at


# -- spans ------------------------------------------------------------------------


def _promote_span(span: Any, service: str | None, rules: Rules | None, replaced: bool, out: Promotion) -> None:
    trace, span_id, parent = span.trace_id, span.span_id, span.parent_span_id
    k = 0
    previous: str | None = None  # always a canonical UUID (derived, stored or validated): trusted as a cause
    span_attrs: dict[str, Any] | None = None
    if rules is not None:
        span_attrs = _attributes(span.attributes)
        rule = rules.match(_text(span_attrs.get(A.GEN_AI_OPERATION_NAME)), span.name,
                           _text(span_attrs.get(A.OPENINFERENCE_SPAN_KIND)))
        if rule is not None and span_attrs.get(A.RECORDED) is not True:  # else already recorded as facts
            for fact in span_facts(span, span_attrs, rule, conversation_of(span_attrs)):
                event_id = fact.event_id or derived_id(trace, span_id, k)  # the first: the span's anchor
                first = _carried_cause(span, span_attrs) or _first_cause(trace, parent)
                cause = fact.cause or (previous if k else first)
                attrs = {A.EVENT_TYPE: fact.event_type, A.SOURCE_ORIGIN: rule.origin, A.SOURCE_RUNTIME: "none",
                         A.PAYLOAD: fact.payload}  # a dict here, not JSON text: _add takes either
                _add(out, attrs, span_attrs, event_id, cause, fact.at, trace, span_id, parent, service, replaced)
                previous, k = event_id, k + 1  # the next fact's cause, even if this one was rejected
    for event in span.events:
        attrs = _attributes(event.attributes)
        if A.EVENT_TYPE not in attrs:
            continue  # not a fact
        if span_attrs is None:
            span_attrs = _attributes(span.attributes)
        if not k:
            first_cause = _carried_cause(span, span_attrs) or _first_cause(trace, parent)
        explicit = attrs.get(A.EVENT_ID)
        given = isinstance(explicit, str)
        event_id = explicit if isinstance(explicit, str) else derived_id(trace, span_id, k)
        cause = previous if k else first_cause
        stored = _add(out, attrs, span_attrs, event_id, cause, event.time_unix_nano or span.start_time_unix_nano,
                      trace, span_id, parent, service, replaced, default_type=event.name, derived=not given)
        # The next fact's cause: this fact, even if rejected (deterministic), unless its given id is not
        # a UUID at all, in which case the cause stays the last fact that has one.
        previous = stored or (canonical_uuid(event_id) if given else event_id) or previous
        k += 1


_HAS_IS_REMOTE, _IS_REMOTE = 0x100, 0x200  # OTLP SpanFlags: whether the parent's context came from elsewhere


def _carried_cause(span: Any, span_attrs: dict[str, Any]) -> str | None:
    """The cause a caller in another service carried in its baggage, put on this span by a baggage
    span processor (``chatsnapshot.causation_id``): the cause of the span's first fact, when the
    span is where the call came in (its parent is remote, or it has none). A baggage span
    processor copies the entry onto every span of the called service: spans nested in it keep
    their parentage."""
    value = span_attrs.get(A.CAUSATION_ID)
    if not isinstance(value, str):
        return None
    flags, has_parent = span.flags, len(span.parent_span_id) == 8 and any(span.parent_span_id)
    local_parent = has_parent and flags & _HAS_IS_REMOTE and not flags & _IS_REMOTE
    return None if local_parent else canonical_uuid(value)


def _first_cause(trace: bytes, parent: bytes) -> str | None:
    return derived_id(trace, parent, 0) if len(parent) == 8 and any(parent) else None


def conversation_of(span_attrs: dict[str, Any]) -> str | None:
    """The conversation a span belongs to: ``gen_ai.conversation.id``, else ``session.id``."""
    for name in (A.GEN_AI_CONVERSATION_ID, A.SESSION_ID):
        value = span_attrs.get(name)
        if isinstance(value, str) and value:
            return value
    return None


# -- shared -----------------------------------------------------------------------


def _add(out: Promotion, attrs: dict[str, Any], span_attrs: dict[str, Any], event_id: str, cause: str | None,
         when: int, trace: bytes, span: bytes, parent: bytes | None, service: str | None, replaced: bool,
         default_type: str | None = None, *, derived: bool = True) -> str | None:
    """Validate and append one fact (or its rejection); the stored event id, or None.

    ``derived``: ``event_id`` and ``cause`` were computed here (no checks needed);
    attributes that override them are checked like any other input."""
    event_type = attrs.get(A.EVENT_TYPE, default_type)
    trace_hex = trace.hex() if len(trace) == 16 and any(trace) else None
    # One run per trace unless the producer names it: every span of an invocation knows its trace id,
    # whatever arrives when; a conversation (several invocations) is not a run (conversation_of).
    correlation = attrs.get(A.CORRELATION_ID) or span_attrs.get(A.CORRELATION_ID) or trace_hex
    explicit_cause = attrs.get(A.CAUSATION_ID)
    if explicit_cause == "":  # explicitly no cause: a root (record() says so when it knows of none)
        cause, explicit_cause = None, None
    try:
        if attrs.get(A.CORRELATION_ID) == "" or span_attrs.get(A.CORRELATION_ID) == "":
            raise EnvelopeError(f"{A.CORRELATION_ID} is empty: give the run's id, or leave the attribute out "
                                "(the trace id is the run then)", field="correlation_id")
        check_not_reserved(event_type, correlation)
        agent = attrs.get(A.SOURCE_AGENT) or attrs.get(A.GEN_AI_AGENT_NAME) or span_attrs.get(A.GEN_AI_AGENT_NAME)
        payload = _payload(attrs.get(A.PAYLOAD))
        if replaced and _shows_replacement(event_type, correlation, payload, service, agent, attrs):
            payload = _flag(payload, A.INVALID_UTF8_FLAG, True)
        dropped = _dropped(attrs) + _dropped(span_attrs)
        if dropped:
            payload = _flag(payload, A.DROPPED_ATTRIBUTES, dropped)
            out.dropped_attributes += dropped
        source = source_of(
            attrs.get(A.SOURCE_ORIGIN, _DEFAULT_ORIGIN), attrs.get(A.SOURCE_RUNTIME, _DEFAULT_RUNTIME), service, agent,
        )
        envelope = Envelope._promoted(
            event_id, event_type, correlation, when, source, payload,
            cause if explicit_cause is None else explicit_cause,
            trace_hex,
            span.hex() if len(span) == 8 and any(span) else None,
            parent.hex() if parent is not None and len(parent) == 8 and any(parent) else None,
            ids_trusted=derived and explicit_cause is None,
            schema_version=attrs.get(A.SCHEMA_VERSION, 1),
        )
    except EnvelopeError as e:
        out.rejected.append(_rejection(str(e), e.field, event_type, correlation, trace, span, service, attrs))
        return None
    except (TypeError, ValueError, RecursionError) as e:  # a non-string where text belongs, JSON nested too deep
        reason = "payload is nested too deeply" if isinstance(e, RecursionError) else str(e)
        out.rejected.append(_rejection(reason, None, event_type, correlation, trace, span, service, attrs))
        return None
    out.envelopes.append(envelope)
    return envelope.event_id


def _payload(value: Any) -> str:
    if value is None:
        return "{}"
    if isinstance(value, dict):
        return canonical_json(value)
    if isinstance(value, str):
        return value  # validated and canonicalised by Envelope
    raise EnvelopeError(f"{A.PAYLOAD} must be a JSON object as a string, got {type(value).__name__}",
                        field="payload")


def _flag(payload: str, key: str, value: Any) -> str:
    """The payload with ``key: value`` added (unchanged if it is no JSON object: the envelope's
    validation then rejects it)."""
    try:
        document = json.loads(payload)
    except ValueError:
        return payload
    if not isinstance(document, dict):
        return payload
    document[key] = value
    return canonical_json(document)


def _dropped(attrs: dict[str, Any]) -> int:
    value = attrs.get(A.DROPPED_ATTRIBUTES)
    return value if type(value) is int and value > 0 else 0


def _shows_replacement(*values: Any) -> bool:
    """Whether U+FFFD landed in any of the fact's fields (the last value: its attributes)."""
    *fields, attrs = values
    return any(isinstance(v, str) and "\ufffd" in v for v in (*fields, *attrs.values()))


def _rejection(reason: str, field_name: str | None, event_type: Any, correlation: Any, trace: bytes, span: bytes,
               service: str | None, attrs: dict[str, Any]) -> Rejection:
    return Rejection(
        reason=reason, field=field_name,
        event_type=event_type if isinstance(event_type, str) else None,
        correlation_id=correlation if isinstance(correlation, str) else None,
        trace_id=trace.hex() or None, span_id=span.hex() or None, service=service,
        attributes_json=json.dumps(attrs, default=repr, ensure_ascii=False, sort_keys=True),
        received_at=time.time_ns(),
    )


def _log_id(record: Any, attrs: dict[str, Any]) -> str:
    return uuid8_of(FACT_ID_DOMAIN + b"/log" + record.trace_id + record.span_id
                    + record.time_unix_nano.to_bytes(8, "big") + canonical_json(attrs).encode())


def _service(resource_attributes: Iterable[Any]) -> str | None:
    for kv in resource_attributes:
        if kv.key == A.SERVICE_NAME:
            value = _value(kv.value)
            return value if isinstance(value, str) else None
    return None


def _attributes(pairs: Any) -> dict[str, Any]:
    """The first ``ATTRIBUTE_LIMIT`` attributes as a dict; how many more there were is kept under
    ``A.DROPPED_ATTRIBUTES``. The rest are never read: a request of millions of attributes costs
    what its first ones cost (the OTel SDKs drop them at the same count)."""
    out: dict[str, Any] = {}
    n = len(pairs)
    for kv in pairs[:ATTRIBUTE_LIMIT] if n > ATTRIBUTE_LIMIT else pairs:
        value = kv.value
        out[kv.key] = value.string_value if value.WhichOneof("value") == "string_value" else _value(value)
    if n > ATTRIBUTE_LIMIT:
        out[A.DROPPED_ATTRIBUTES] = n - ATTRIBUTE_LIMIT
    return out


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _value(any_value: Any) -> Any:
    """An OTLP ``AnyValue`` as a JSON-safe Python value (bytes as hex)."""
    kind = any_value.WhichOneof("value")
    if kind == "string_value":
        return any_value.string_value
    if kind is None:
        return None
    if kind == "int_value":
        return any_value.int_value
    if kind == "bool_value":
        return any_value.bool_value
    if kind == "double_value":
        value = any_value.double_value
        return value if value == value and abs(value) != float("inf") else str(value)
    if kind == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in any_value.kvlist_value.values}
    return any_value.bytes_value.hex()
