"""make demo's program runs end to end (receiver, spool, workflow, CLI) and says what it did."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.helpers import ROOT, page_data


def test_the_demo_runs_end_to_end(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(ROOT / "demo" / "main.py"), str(tmp_path)], env=env,
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert "all acknowledged (durable)" in text and "receiver stopped; everything acknowledged is sealed" in text
    assert re.search(r"ok: \d+ envelopes in 1 correlation, every chain holds", text)
    for kind in ("execution.tool_result", "execution.human_input_received", "execution.handoff",
                 "integration.call", "system.workflow_completed"):
        assert kind in text
    assert (tmp_path / "demo-ledger" / "MANIFEST").exists()
    assert "human → planner\n      Relaxed, please." in text  # the transcript
    carried = page_data((tmp_path / "demo-run.html").read_text())
    assert len(carried["envelopes"]) == len(carried["document"]["facts"]) == int(
        re.search(r"ok: (\d+) envelopes", text).group(1))  # the page carries every fact of the run
    suggested = [line.split("#")[0].split()[3:] for line in text.splitlines()
                 if line.startswith("  .venv/bin/chatsnapshot --ledger demo-ledger ")]
    assert {args[0] for args in suggested} >= {"timeline", "dag", "stats", "replay", "fork", "view", "ui"}
    for args in [a for a in suggested if a[0] != "ui"]:  # every command it suggests works as printed (ui serves
        # until stopped: tests/ui starts it)
        done = subprocess.run([sys.executable, "-m", "chatsnapshot.cli.main", "--ledger",
                               str(tmp_path / "demo-ledger"), *args], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, (args, done.stderr)


def test_the_demo_keeps_earlier_runs_unless_asked_and_cleans_its_spool(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def demo(*extra):
        done = subprocess.run([sys.executable, str(ROOT / "demo" / "main.py"), str(tmp_path), *extra], env=env,
                              capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stdout + done.stderr
        assert not (tmp_path / "demo-spool").exists()  # everything was delivered: nothing left behind
        return done.stdout

    demo()
    second = demo()
    assert "adding a run to the existing demo-ledger/" in second
    assert re.search(r"ok: \d+ envelopes in 2 correlations, every chain holds", second)
    assert re.search(r"ok: \d+ envelopes in 1 correlation, every chain holds", demo("--fresh"))
