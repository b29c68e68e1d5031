"""One run across services: Python calls a Node service that has no ChatSnapshot installed.

The Python process records inside ``chatsnapshot.correlation()`` and calls the Node tool
service over HTTP with the default propagators; the Node service (tests/js/tool_service.js:
the JS SDK, the W3C propagators and the official baggage span processor) records a fact on
its own span. Both export to one real receiver. The Node fact must land in the Python run,
caused by the Python fact that was current when the call went out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.receiver.conftest import start_receiver
from tests.receiver.test_js_sdk import JS, NODE

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tool_service(receiver):
    service = subprocess.Popen([NODE, str(JS / "tool_service.js"), f"http://127.0.0.1:{receiver.grpc_port}"],
                               cwd=JS, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = json.loads(service.stdout.readline())["port"]
        yield f"http://127.0.0.1:{port}/weather"
    finally:
        service.terminate()
        service.wait(timeout=10)


@pytest.fixture
def receiver(tmp_path):
    r = start_receiver(tmp_path / "ledger")
    yield r
    r.stop(grace=2)


def test_a_run_continues_in_a_node_service_through_w3c_baggage(receiver, tool_service, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("baggage_caller.py")),
                           f"127.0.0.1:{receiver.grpc_port}", tool_service, str(tmp_path / "spool")],
                          capture_output=True, text=True, timeout=90, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout.splitlines()[-1])
    assert f"chatsnapshot.correlation_id={said['run']}" in said["baggage"]
    ledger = receiver.ledger
    deadline = time.monotonic() + 20
    while len(facts := list(ledger.replay(said["run"]))) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    by_service = sorted((f.source.service, f.event_type) for f in facts)
    assert by_service == [("python-agent", "execution.message"), ("python-agent", "execution.message"),
                          ("python-agent", "execution.tool_call"), ("weather-tool", "execution.tool_result")]
    node_fact = next(f for f in facts if f.source.service == "weather-tool")
    assert node_fact.payload["result"] == "sunny, 21C"
    assert node_fact.causation_id == node_fact.cause_id == said["tool_call"]  # the fact current at the call
    assert [r.correlation_id for r in ledger.runs()] == [said["run"]]  # one run, across two services
    assert ledger.verify().ok
