// Export a small agent run as the OpenTelemetry JS SDK does: facts as span events and as
// log records, through one of the official OTLP exporters. Used by tests/receiver/test_js_sdk.py.
//
//   node export_facts.js PROTOCOL ENDPOINT COMPRESSION RUN_ID
//
// PROTOCOL is grpc, http/protobuf or http/json; ENDPOINT is http://host:port (the OTLP
// paths are added for HTTP); COMPRESSION is gzip or none. Prints one JSON object: what was
// emitted, with the ids and the nanosecond times exactly as the JS SDK reported them.

"use strict";

const api = require("@opentelemetry/api");
const { resourceFromAttributes } = require("@opentelemetry/resources");
const { TracerProvider, SimpleSpanProcessor } = require("@opentelemetry/sdk-trace");
const { LoggerProvider, SimpleLogRecordProcessor } = require("@opentelemetry/sdk-logs");

const [protocol, endpoint, compression, runId] = process.argv.slice(2);
const EXPORTERS = {
  "grpc": ["@opentelemetry/exporter-trace-otlp-grpc", "@opentelemetry/exporter-logs-otlp-grpc", "", ""],
  "http/protobuf": ["@opentelemetry/exporter-trace-otlp-proto", "@opentelemetry/exporter-logs-otlp-proto",
                    "/v1/traces", "/v1/logs"],
  "http/json": ["@opentelemetry/exporter-trace-otlp-http", "@opentelemetry/exporter-logs-otlp-http",
                "/v1/traces", "/v1/logs"],
};
const [traceModule, logModule, tracePath, logPath] = EXPORTERS[protocol];
const options = (path) => ({ url: endpoint + path, compression, timeoutMillis: 10000 });
const spanExporter = new (require(traceModule).OTLPTraceExporter)(options(tracePath));
const logExporter = new (require(logModule).OTLPLogExporter)(options(logPath));

const resource = resourceFromAttributes({ "service.name": "js-agent" });
const tracerProvider = new TracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor({ exporter: spanExporter })] });
const loggerProvider = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter: logExporter })] });
const tracer = tracerProvider.getTracer("chatsnapshot-js-test");
const logger = loggerProvider.getLogger("chatsnapshot-js-test");

api.diag.setLogger(new api.DiagConsoleLogger(), api.DiagLogLevel.WARN); // export failures on stderr

const emitted = [];
const BASE = 1764590000; // seconds; every fact gets its own nanoseconds so precision shows

function attributes(eventType, payload) {
  return {
    "chatsnapshot.event_type": eventType,
    "chatsnapshot.correlation_id": runId,
    "chatsnapshot.source.origin": "agent",
    "chatsnapshot.source.runtime": "js",
    "chatsnapshot.source.agent": "js-planner",
    "chatsnapshot.payload": JSON.stringify(payload),
  };
}

function note(kind, span, eventType, payload, nanos) {
  const ctx = span.spanContext();
  emitted.push({
    kind, event_type: eventType, payload, trace_id: ctx.traceId, span_id: ctx.spanId,
    parent_span_id: span.parentSpanContext ? span.parentSpanContext.spanId : null,
    occurred_at: `${BASE}${String(nanos).padStart(9, "0")}`,
  });
}

function event(span, eventType, payload, nanos) {
  span.addEvent(eventType, attributes(eventType, payload), [BASE, nanos]);
  note("span_event", span, eventType, payload, nanos);
}

function log(span, eventType, payload, nanos) {
  logger.emit({
    eventName: eventType, timestamp: [BASE, nanos], attributes: attributes(eventType, payload),
    context: api.trace.setSpan(api.context.active(), span),
  });
  note("log_record", span, eventType, payload, nanos);
}

async function main() {
  const run = tracer.startSpan("invoke_agent js-planner");
  event(run, "execution.run_started", { task: "weather in Paris", "ünï": "cödé ✓" }, 100000001);
  const turn = tracer.startSpan("turn", {}, api.trace.setSpan(api.context.active(), run));
  event(turn, "execution.message", { role: "user", content: "What's the weather in Paris?" }, 200000002);
  log(turn, "execution.tool_call", { name: "get_weather", arguments: "{\"city\": \"Paris\"}" }, 300000003);
  event(turn, "execution.tool_result", { name: "get_weather", result: "sunny", status: "ok" }, 400000004);
  turn.end();
  event(run, "execution.run_completed", { status: "ok" }, 500000005);
  run.end();
  await tracerProvider.forceFlush();
  await loggerProvider.forceFlush();
  await tracerProvider.shutdown();
  await loggerProvider.shutdown();
  process.stdout.write(JSON.stringify({ emitted }) + "\n");
}

main().catch((e) => { console.error(e); process.exit(1); });
