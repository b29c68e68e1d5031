"""The Python side of tests/receiver/test_baggage.py, run as a process of its own: an agent
that records a tool call inside ``correlation()`` and calls the Node tool service over HTTP
with the default OTel propagators (traceparent and baggage), as an instrumented HTTP client
would. Prints {"run": ..., "tool_call": ...}.

    python baggage_caller.py RECEIVER_GRPC TOOL_URL SPOOL_DIR
"""

from __future__ import annotations

import json
import sys
import urllib.request

from opentelemetry.propagate import inject

import chatsnapshot


def main(endpoint: str, url: str, spool: str) -> None:
    pipeline = chatsnapshot.configure(endpoint=endpoint, spool_dir=spool, service_name="python-agent")
    with chatsnapshot.correlation() as run:
        chatsnapshot.record("execution.message", payload={"role": "user", "content": "Weather in Paris?"},
                            origin="agent", agent="planner")
        call = chatsnapshot.record("execution.tool_call", payload={"name": "get_weather",
                                                                   "arguments": '{"city": "Paris"}'},
                                   origin="agent", agent="planner")
        headers = {"Content-Type": "application/json"}
        inject(headers)  # traceparent, and baggage: chatsnapshot.correlation_id and .causation_id
        request = urllib.request.Request(url, data=json.dumps({"city": "Paris"}).encode(), headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            forecast = json.loads(response.read())["forecast"]
        chatsnapshot.record("execution.message", payload={"role": "assistant", "content": f"It is {forecast}."},
                            origin="agent", agent="planner")
    assert pipeline.delivered(30_000), "the receiver did not acknowledge the facts"
    pipeline.shutdown()
    print(json.dumps({"run": run, "tool_call": call, "baggage": headers.get("baggage")}))


if __name__ == "__main__":
    main(*sys.argv[1:])
