"""The receiver: OTLP in, committed envelopes out (``chatsnapshot serve``).

Transport-free core, used by the servers and by the in-process exporters alike:

====================  ===================================================================
``otlp``              signals, OTLP request types, gRPC service names, Export responses
``decoding``          request bytes -> OTLP messages (protobuf or OTLP/JSON; bad UTF-8
                      replaced and flagged)
``promotion``         OTLP messages -> envelopes: span events and log records that carry
                      ``chatsnapshot.*``, and spans matched by ``span_rules``; ids and
                      causation derived deterministically from span parentage
``span_rules``        span promotion rules: the shipped ``rules/default.toml``, users' files
``genai``             a GenAI / OpenInference span's attributes -> standard payloads
``committing``        append a promotion, dead-letter its rejections and conflicts
``status``            errors -> gRPC codes and HTTP statuses, and back (retry or not)
====================  ===================================================================

The servers and what surrounds them: ``ingest`` (admission budget, commit,
answer), ``grpc_service`` and ``http_service`` (one module per transport),
``workers`` (decode and promote in other processes), ``auth`` (bearer tokens),
``forwarding`` (re-export upstream), ``ledger_service`` (Replay, Tail, Verify
over gRPC) and its ``client``, ``metrics`` (Prometheus text), ``settings``
(flag > environment > default, ``validate()``), and ``server`` (``Receiver``:
start, stop in order, ``run`` for the command line).

A request is answered success only once its envelopes are durable (contract 1).
The receiver writes to any ``chatsnapshot.ledger.store.Store``: a ledger
directory, or a ``MemoryLedger`` in tests.
"""
