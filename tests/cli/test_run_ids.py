"""A run may be named by a unique start or end of its id, in replay and verify as everywhere."""

from __future__ import annotations

import pytest

from chatsnapshot.ledger import Envelope, Ledger
from tests.cli.test_cli import run_cli

RUNS = ("0190b6a2-7c4e-7d3a-9f1e-2b8c4d5e6f70", "0190b6a2-7c4e-7d3a-9f1e-aaaaaaaaaaaa", "other-run")


@pytest.fixture
def ledger(tmp_path):
    with Ledger.open(tmp_path / "ledger") as ledger:
        ledger.append([Envelope.create("system.task_scheduled", correlation_id=c) for c in RUNS])
    return tmp_path / "ledger"


@pytest.mark.parametrize("command", ["replay", "verify", "transcript"])
@pytest.mark.parametrize("name", ["4d5e6f70", "other-", RUNS[0]])
def test_a_unique_start_or_end_names_the_run(ledger, command, name):
    done = run_cli("--ledger", str(ledger), command, name, *(["--format", "jsonl"] if command == "replay" else []))
    assert done.returncode == 0, done.stderr
    if command == "replay":
        (line,) = done.stdout.splitlines()
        assert (RUNS[0] if name != "other-" else "other-run") in line


@pytest.mark.parametrize("command", ["replay", "verify"])
def test_an_ambiguous_start_is_exit_2_naming_the_runs(ledger, command):
    done = run_cli("--ledger", str(ledger), command, "0190b6a2")
    assert done.returncode == 2 and "is the start of 2 runs" in done.stderr and done.stderr.count("\n") == 1
