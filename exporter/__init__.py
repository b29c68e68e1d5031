"""Exporters: OpenTelemetry SDK exporters that deliver facts to a ledger.

Two ways, both real ``SpanExporter`` / ``LogExporter`` classes:

======================================  ====================================================
``exporter.ledger_exporters``           ``LedgerSpanExporter``, ``LedgerLogExporter``: an
                                        embedded receiver. Each export is promoted and
                                        committed in-process (``receiver.promotion``,
                                        ``receiver.committing``) into a ledger directory or
                                        any ``Store``; ``OTEL_TRACES_EXPORTER=chatsnapshot``
                                        and ``OTEL_LOGS_EXPORTER=chatsnapshot`` select them.
``exporter.spooling``                   ``SpoolingOTLPSpanExporter``, ``SpoolingOTLPLogExporter``:
                                        OTLP to a remote receiver or collector through
``exporter.spool``                      the durable on-disk spool: a request is fsync'd
                                        before ``export`` returns and deleted only once
                                        acknowledged; one sender per spool, retries as
                                        ``receiver.status`` says.
======================================  ====================================================

``export`` never raises into the program and never blocks on the network.
"""
