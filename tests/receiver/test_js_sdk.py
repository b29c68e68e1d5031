"""The OpenTelemetry JS SDK, run by Node, through each of its official OTLP exporters.

``tests/js/export_facts.js`` records a small agent run as the JS SDK does (facts as span
events and as log records, with nanosecond times) and exports it over gRPC, HTTP/protobuf or
HTTP/JSON, gzip'd or not, to a real receiver on loopback. Every fact must be stored once,
with its payload, its time to the nanosecond, the ids JS reported, and causes from parentage.
The npm packages are pinned by ``tests/js/package-lock.json`` (``make test`` runs ``npm ci``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.receiver.conftest import start_receiver

JS = Path(__file__).resolve().parents[1] / "js"
NODE = shutil.which("node")
INSTALLED = (JS / "node_modules" / ".installed").exists()
if NODE is None or not INSTALLED:
    reason = "Node.js is not installed" if NODE is None else "tests/js/node_modules is missing: run make test"
    if os.environ.get("CI"):
        raise RuntimeError(f"the JS SDK interop tests must run in CI: {reason}")
    pytest.skip(reason, allow_module_level=True)

EXPORTS = [(protocol, compression) for protocol in ("grpc", "http/protobuf", "http/json")
           for compression in ("gzip", "none")]


def _export(protocol: str, port: int, compression: str, run_id: str) -> list[dict]:
    done = subprocess.run([NODE, str(JS / "export_facts.js"), protocol, f"http://127.0.0.1:{port}", compression,
                           run_id], cwd=JS, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Error" not in done.stderr, done.stderr  # the exporters report a failed export on stderr (diag)
    return json.loads(done.stdout)["emitted"]


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """Each exporter's run, as the receiver stored it: {(protocol, compression): (emitted, replayed)}."""
    receiver = start_receiver(tmp_path_factory.mktemp("js") / "ledger")
    try:
        runs = {}
        for protocol, compression in EXPORTS:
            run_id = f"js-{protocol.replace('/', '-')}-{compression}"
            port = receiver.grpc_port if protocol == "grpc" else receiver.http_address[1]
            runs[protocol, compression] = (_export(protocol, port, compression, run_id), run_id)
        ledger = receiver.ledger
        result = {key: (emitted, list(ledger.replay(run_id))) for key, (emitted, run_id) in runs.items()}
        report = ledger.verify()
        assert report.ok, report.breaks + report.problems
        yield result
    finally:
        receiver.stop(grace=2)


@pytest.mark.parametrize("protocol, compression", EXPORTS)
def test_every_fact_arrives_once_with_its_payload_time_and_ids(stored, protocol, compression):
    emitted, envelopes = stored[protocol, compression]
    assert len(envelopes) == len(emitted) == 5
    by_type = {e.event_type: e for e in envelopes}
    assert len(by_type) == 5  # each fact once
    for fact in emitted:
        env = by_type[fact["event_type"]]
        assert env.payload == fact["payload"]  # non-ASCII included
        assert env.occurred_at == int(fact["occurred_at"])  # to the nanosecond
        assert (env.trace_id, env.span_id) == (fact["trace_id"], fact["span_id"])
        assert env.source.service == "js-agent" and env.source.agent == "js-planner" and env.source.runtime == "js"
        if fact["kind"] == "span_event":
            assert env.parent_span_id == fact["parent_span_id"]


@pytest.mark.parametrize("protocol, compression", EXPORTS)
def test_causes_follow_the_js_span_tree(stored, protocol, compression):
    _, envelopes = stored[protocol, compression]
    by_type = {e.event_type: e for e in envelopes}
    started, message, call, result, completed = (by_type[t] for t in (
        "execution.run_started", "execution.message", "execution.tool_call", "execution.tool_result",
        "execution.run_completed"))
    assert started.cause_id is None  # the root span's first fact
    assert message.cause_id == started.event_id  # a child span's first fact: its parent's first fact
    assert call.cause_id == message.event_id  # a log record: the first fact of the span it was emitted in
    assert result.cause_id == message.event_id  # the previous fact of its span
    assert completed.cause_id == started.event_id
