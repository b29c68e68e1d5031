"""make demo's program runs end to end (receiver, spool, workflow, CLI) and says what it did."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import ROOT


def test_the_demo_runs_end_to_end(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(ROOT / "demo" / "main.py"), str(tmp_path)], env=env,
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert "all acknowledged (durable)" in text and "receiver stopped; everything acknowledged is sealed" in text
    assert "ok: 13 envelopes in 1 correlation, every chain holds" in text
    assert "execution.tool_result" in text and (tmp_path / "demo-ledger" / "MANIFEST").exists()
