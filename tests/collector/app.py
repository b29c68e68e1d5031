"""An instrumented service as any other: ``record()`` under the program's own OpenTelemetry
SDK, exporting with the official OTLP/gRPC exporter to a Collector. For the Collector tests.

    python tests/collector/app.py ENDPOINT PREFIX RUNS FACTS SECONDS

Records FACTS facts in each of RUNS runs (``PREFIX-0`` ...), spread evenly over SECONDS, then
flushes and prints one JSON line: ``{"sent": [event ids], "acked": [event ids]}``, where
``acked`` are the facts in batches the exporter reported exported (the Collector answered OK).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from chatsnapshot import record
from chatsnapshot.proto import attributes as A


class Tracking(SpanExporter):
    """The official exporter, noting which facts it exported."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner, self.acked, self._lock = inner, [], threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self.inner.export(spans)
        if result is SpanExportResult.SUCCESS:
            with self._lock:
                self.acked += [e.attributes[A.EVENT_ID] for s in spans for e in s.events
                               if e.attributes and A.EVENT_ID in e.attributes]
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def main() -> None:
    endpoint, prefix, runs, facts, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), \
        float(sys.argv[5])
    exporter = Tracking(OTLPSpanExporter(endpoint=endpoint, insecure=True, timeout=30))
    provider = TracerProvider(resource=Resource.create({"service.name": "python-app"}))
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=1_000_000, schedule_delay_millis=100,
                                                   max_export_batch_size=256))
    trace.set_tracer_provider(provider)
    sent, total = [], runs * facts
    started = time.monotonic()
    for i in range(total):
        run = f"{prefix}-{i % runs}"
        sent.append(record("execution.message", payload={"i": i, "text": f"fact {i} of {run}"}, correlation_id=run,
                           origin="agent", agent="python-app"))
        time.sleep(max(0.0, started + seconds * (i + 1) / total - time.monotonic()))
    provider.shutdown()  # flushes: the exporter retries while the Collector is away
    print(json.dumps({"sent": sent, "acked": exporter.acked}), flush=True)


if __name__ == "__main__":
    main()
