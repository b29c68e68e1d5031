"""`opentelemetry-instrument` with environment variables only records facts into a ledger."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from chatsnapshot import Ledger

PROGRAM = textwrap.dedent("""
    import chatsnapshot  # no configure() call: the OTel SDK is set up by opentelemetry-instrument

    with chatsnapshot.correlation("instrumented-run"):
        chatsnapshot.record("system.workflow_started", payload={"name": "nightly"})
        chatsnapshot.record("system.task_scheduled", payload={"task": "fetch"})
        chatsnapshot.record("system.workflow_completed")
""")


@pytest.mark.parametrize("transport", ["spans", "logs"])
def test_env_vars_only(tmp_path, transport):
    program = tmp_path / "app.py"
    program.write_text(PROGRAM)
    ledger = tmp_path / "ledger"
    env = {**os.environ, "CHATSNAPSHOT_LEDGER": str(ledger), "OTEL_SERVICE_NAME": "instrumented",
           "OTEL_METRICS_EXPORTER": "none", "OTEL_TRACES_EXPORTER": "chatsnapshot" if transport == "spans" else "none",
           "OTEL_LOGS_EXPORTER": "chatsnapshot" if transport == "logs" else "none",
           "CHATSNAPSHOT_TRANSPORT": transport}
    instrument = Path(sys.executable).with_name("opentelemetry-instrument")
    out = subprocess.run([str(instrument), sys.executable, str(program)], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    with Ledger.open(ledger, readonly=True) as reader:
        envelopes = list(reader.replay("instrumented-run"))
        assert reader.verify().ok
    assert [e.event_type for e in envelopes] == [
        "system.workflow_started", "system.task_scheduled", "system.workflow_completed"]
    assert {e.source.service for e in envelopes} == {"instrumented"}
    assert envelopes[1].causation_id == envelopes[0].event_id
