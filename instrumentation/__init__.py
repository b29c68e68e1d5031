"""Instrumentation: execution facts leave a program as OpenTelemetry telemetry.

For any code, ``record()`` (``instrumentation.record``) turns one fact into a
span event (or a log record) carrying the ``chatsnapshot.*`` attributes of
``chatsnapshot.proto.attributes``, on a span of its own that ends at once;
``correlation()`` scopes a run; ``configure()`` (``instrumentation.configuration``)
sets up the pipeline they use: an embedded ledger, or a receiver through the
durable spool. The facade ``chatsnapshot`` re-exports all three.

For agent runtimes, one sub-package each, its user manual in its docstring
(the opentelemetry-python-contrib layout), each a ``BaseInstrumentor`` found by
``opentelemetry-instrument`` through the ``opentelemetry_instrumentor`` entry point:

==========================================  ==========================================================
``chatsnapshot.instrumentation.ag2``        AG2 1.x (module ``ag2``): ``AG2Instrumentor``, ``restore``
``chatsnapshot.instrumentation.autogen``    AG2 0.x (module ``autogen``): ``AutogenInstrumentor``,
                                            ``restore``
==========================================  ==========================================================

Both share the era-independent parts: ``flows`` (a conversation's correlation,
its explicit causal chain, operation spans, safe emission) and ``payloads``
(JSON-safe conversion, truncation with a marker). Instrumentation never breaks
the program it observes: export trouble is logged once, hostile payloads become
text.

Imports point down only: instrumentation -> exporter -> receiver -> ledger -> proto.
"""
