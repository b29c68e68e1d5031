"""The names facts carry on the wire. Nothing else spells them.

A span event or an OTLP log record is a fact when it carries ``EVENT_TYPE``.
Its other attributes:

==============================  ==============================================
attribute                       envelope field
==============================  ==============================================
chatsnapshot.event_id           event_id (else derived from the span context)
chatsnapshot.event_type         event_type (also the span event's name)
chatsnapshot.correlation_id     correlation_id (else the span's, else the
                                trace id: one run per trace)
chatsnapshot.causation_id       causation_id (else derived from parentage;
                                "" says explicitly: no cause, a root)
chatsnapshot.source.origin      source.origin (default "system")
chatsnapshot.source.runtime     source.runtime (default "custom")
chatsnapshot.source.agent       source.agent (else gen_ai.agent.name)
chatsnapshot.payload            payload, a JSON object as a string
chatsnapshot.schema_version     schema_version (default 1)
==============================  ==============================================

The event's timestamp is ``occurred_at``; the resource's ``service.name`` is
``source.service``. A span's conversation (``gen_ai.conversation.id``, else
OpenInference's ``session.id``) groups runs: a fact a rule makes of the span
carries it as ``conversation_id`` in its payload (the ``run_conversations`` SQL view).
"""

from __future__ import annotations

__all__ = [
    "CAUSATION_ID",
    "CORRELATION_ID",
    "DROPPED_ATTRIBUTES",
    "EVENT_ID",
    "EVENT_TYPE",
    "GEN_AI_AGENT_NAME",
    "GEN_AI_CONVERSATION_ID",
    "GEN_AI_OPERATION_NAME",
    "INVALID_UTF8_FLAG",
    "OPENINFERENCE_SPAN_KIND",
    "PAYLOAD",
    "PREFIX",
    "RECORDED",
    "SCHEMA_VERSION",
    "SERVICE_NAME",
    "SESSION_ID",
    "SOURCE_AGENT",
    "SOURCE_ORIGIN",
    "SOURCE_RUNTIME",
]

PREFIX = "chatsnapshot."
EVENT_ID = "chatsnapshot.event_id"
EVENT_TYPE = "chatsnapshot.event_type"
CORRELATION_ID = "chatsnapshot.correlation_id"
CAUSATION_ID = "chatsnapshot.causation_id"
SOURCE_ORIGIN = "chatsnapshot.source.origin"
SOURCE_RUNTIME = "chatsnapshot.source.runtime"
SOURCE_AGENT = "chatsnapshot.source.agent"
PAYLOAD = "chatsnapshot.payload"
SCHEMA_VERSION = "chatsnapshot.schema_version"

# Added to a payload by the receiver when the fact arrived with invalid UTF-8,
# which was replaced by U+FFFD rather than dropped.
INVALID_UTF8_FLAG = "chatsnapshot.invalid_utf8"

# Added to a payload by the receiver with the number of attributes it did not read on the fact's
# event or log record and its span: those over the limit of 128 each (the OTel SDKs' own default).
DROPPED_ATTRIBUTES = "chatsnapshot.dropped_attributes"

# Set (true) by ChatSnapshot's framework instrumentation on the spans of operations it
# already records as facts (its own and another instrumentation's, such as AG2's
# TelemetryMiddleware): span promotion rules skip them, so no operation is stored twice.
RECORDED = "chatsnapshot.recorded"

# OpenTelemetry semantic conventions this project reads.
SERVICE_NAME = "service.name"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
SESSION_ID = "session.id"  # OpenInference's conversation
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
OPENINFERENCE_SPAN_KIND = "openinference.span.kind"
