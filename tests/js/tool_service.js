// A tool service in Node that has no ChatSnapshot installed: the OpenTelemetry JS SDK, the
// W3C propagators, and the official baggage span processor, which copies the caller's
// baggage (chatsnapshot.correlation_id, chatsnapshot.causation_id) onto the spans this
// service starts. Each request is handled in a span of its own that records one fact.
// Used by tests/receiver/test_baggage.py.
//
//   node tool_service.js OTLP_GRPC_ENDPOINT
//
// Prints {"port": N} once it listens; POST /weather answers {"forecast": ...}.

"use strict";

const http = require("http");
const api = require("@opentelemetry/api");
const { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } = require("@opentelemetry/core");
const { resourceFromAttributes } = require("@opentelemetry/resources");
const { TracerProvider, SimpleSpanProcessor } = require("@opentelemetry/sdk-trace");
const { BaggageSpanProcessor, ALLOW_ALL_BAGGAGE_KEYS } = require("@opentelemetry/baggage-span-processor");
const { OTLPTraceExporter } = require("@opentelemetry/exporter-trace-otlp-grpc");

api.diag.setLogger(new api.DiagConsoleLogger(), api.DiagLogLevel.WARN);
const provider = new TracerProvider({
  resource: resourceFromAttributes({ "service.name": "weather-tool" }),
  spanProcessors: [
    new BaggageSpanProcessor(ALLOW_ALL_BAGGAGE_KEYS),
    new SimpleSpanProcessor({ exporter: new OTLPTraceExporter({ url: process.argv[2] }) }),
  ],
});
api.propagation.setGlobalPropagator(new CompositePropagator({
  propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
}));
const tracer = provider.getTracer("weather-tool");

const server = http.createServer((req, res) => {
  let body = "";
  req.on("data", (chunk) => { body += chunk; });
  req.on("end", async () => {
    const parent = api.propagation.extract(api.ROOT_CONTEXT, req.headers);
    const span = tracer.startSpan("execute_tool get_weather", {}, parent);
    const { city } = JSON.parse(body || "{}");
    const forecast = city === "Paris" ? "sunny, 21C" : "unknown";
    span.addEvent("execution.tool_result", {
      "chatsnapshot.event_type": "execution.tool_result",
      "chatsnapshot.source.origin": "integration",
      "chatsnapshot.source.runtime": "node",
      "chatsnapshot.payload": JSON.stringify({ name: "get_weather", result: forecast, status: "ok" }),
    });
    span.end();
    await provider.forceFlush(); // the fact is exported before the caller hears the answer
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ forecast }));
  });
});

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});
process.on("SIGTERM", async () => { server.close(); await provider.shutdown(); process.exit(0); });
