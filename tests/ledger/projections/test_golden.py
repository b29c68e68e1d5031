"""Every projection of the golden run is the same bytes on every run of the code and across a
compaction, and (for the text ones) what a person reviewed once in golden/."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatsnapshot.ledger import Ledger
from tests.ledger.projections.golden_run import GOLDEN, RUN, build_golden_ledger

COMMANDS = {
    "transcript.txt": ["transcript", RUN],
    "transcript.json": ["transcript", RUN, "--format", "json"],
    "transcript-researcher.txt": ["transcript", RUN, "--agent", "researcher"],
    "timeline.txt": ["timeline", RUN],
    "timeline.json": ["timeline", RUN, "--format", "json"],
    "dag.json": ["dag", RUN],
    "dag.dot": ["dag", RUN, "--format", "dot"],
    "dag.mmd": ["dag", RUN, "--format", "mermaid"],
    "context-600.json": ["context", RUN, "--max-chars", "600"],
    "stats.json": ["stats", RUN, "--format", "json"],
    "stats-all.jsonl": ["stats", "--format", "jsonl"],
    "run.html": ["view", RUN, "-o", "-"],  # holds recorded_at and hashes: compared across runs, not with golden/
}


def project(ledger: Path) -> dict[str, bytes]:
    """Every projection, each from a new process (a new run of the code)."""
    outputs = {}
    for name, args in COMMANDS.items():
        done = subprocess.run([sys.executable, "-m", "chatsnapshot.cli.main", "--ledger", str(ledger), *args],
                              capture_output=True, timeout=120, check=False)
        assert done.returncode == 0, f"{args}: {done.stderr.decode()}"
        outputs[name] = done.stdout
    return outputs


@pytest.mark.slow
def test_projections_are_byte_identical_across_runs_of_the_code_and_compaction(tmp_path):
    ledger = build_golden_ledger(tmp_path / "ledger")
    first, second = project(ledger), project(ledger)
    assert first == second
    with Ledger.open(ledger) as writer:
        report = writer.compact()
    assert report.merged > 0, "the golden ledger should have segments to merge"
    assert project(ledger) == first
    for name, output in first.items():
        if name == "run.html":
            continue
        path = GOLDEN / name
        if os.environ.get("CHATSNAPSHOT_UPDATE_GOLDEN") == "1":
            path.write_bytes(output)
        assert path.exists(), f"{path} is missing: run with CHATSNAPSHOT_UPDATE_GOLDEN=1 once and review it"
        assert output == path.read_bytes(), f"{name} differs from {path} (CHATSNAPSHOT_UPDATE_GOLDEN=1 to review)"
