// Stream facts as a Node.js service instrumented with the OpenTelemetry JS SDK does: one span
// per fact with the fact as a span event, a BatchSpanProcessor and the official OTLP/gRPC
// exporter. Used by tests/collector/ (the app behind a real Collector).
//
//   node stream_facts.js ENDPOINT PREFIX RUNS FACTS SECONDS
//
// Prints one JSON line: {"sent": [event ids], "acked": [event ids of batches exported OK]}.

"use strict";

const crypto = require("node:crypto");
const { resourceFromAttributes } = require("@opentelemetry/resources");
const { TracerProvider, BatchSpanProcessor } = require("@opentelemetry/sdk-trace");
const { OTLPTraceExporter } = require("@opentelemetry/exporter-trace-otlp-grpc");

const [endpoint, prefix, runs, facts, seconds] = process.argv.slice(2);
const inner = new OTLPTraceExporter({ url: endpoint, timeoutMillis: 30000 });
const acked = [];
const exporter = { // the official exporter, noting which facts it exported
  export(spans, done) {
    inner.export(spans, (result) => {
      if (result.code === 0) {
        for (const span of spans) for (const e of span.events) acked.push(e.attributes["chatsnapshot.event_id"]);
      }
      done(result);
    });
  },
  shutdown: () => inner.shutdown(),
  forceFlush: () => inner.forceFlush(),
};
const provider = new TracerProvider({
  resource: resourceFromAttributes({ "service.name": "js-app" }),
  spanProcessors: [new BatchSpanProcessor({ exporter, maxQueueSize: 1000000, scheduledDelayMillis: 100,
                                             maxExportBatchSize: 256 })],
});
const tracer = provider.getTracer("chatsnapshot-js-stream");

async function main() {
  const total = Number(runs) * Number(facts);
  const started = Date.now();
  const sent = [];
  for (let i = 0; i < total; i++) {
    const run = `${prefix}-${i % Number(runs)}`;
    const id = crypto.randomUUID();
    const span = tracer.startSpan("fact");
    span.addEvent("execution.message", {
      "chatsnapshot.event_type": "execution.message",
      "chatsnapshot.event_id": id,
      "chatsnapshot.correlation_id": run,
      "chatsnapshot.source.origin": "agent",
      "chatsnapshot.source.runtime": "js",
      "chatsnapshot.source.agent": "js-app",
      "chatsnapshot.payload": JSON.stringify({ i, text: `fact ${i} of ${run}` }),
    });
    span.end();
    sent.push(id);
    const wait = started + (Number(seconds) * 1000 * (i + 1)) / total - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  await provider.forceFlush();
  await provider.shutdown();
  process.stdout.write(JSON.stringify({ sent, acked }) + "\n");
}

main().catch((e) => { console.error(e); process.exit(1); });
