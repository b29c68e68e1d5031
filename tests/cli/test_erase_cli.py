"""chatsnapshot erase: asks before it erases, says what it did, and verify agrees afterwards."""

from __future__ import annotations

import pytest

from chatsnapshot.ledger import Envelope, Ledger
from tests.cli.test_cli import run_cli

RUN = "0190b6a2-7c4e-7d3a-9f1e-2b8c4d5e6f70"


@pytest.fixture
def ledger(tmp_path):
    with Ledger.open(tmp_path / "ledger") as ledger:
        ledger.append([Envelope.create("execution.message", correlation_id=c, payload={"content": f"hi from {c}"})
                       for c in (RUN, RUN, "other-run")])
    return str(tmp_path / "ledger")


def test_erase_counts_first_asks_for_yes_then_erases_and_verify_reports_it(ledger):
    dry = run_cli("--ledger", ledger, "erase", "4d5e6f70", "--reason", "ticket 1", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[:2] == [f"would erase 2 payload(s) in 1 run(s): {RUN} (2)",
                                           "dry run: nothing was changed"]
    unasked = run_cli("--ledger", ledger, "erase", RUN, "--reason", "ticket 1")  # stdin is not a terminal
    assert unasked.returncode == 2 and "--yes" in unasked.stderr
    done = run_cli("--ledger", ledger, "erase", RUN, "--reason", "ticket 1", "--by", "dpo", "--yes")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"erased 2 payload(s) in 1 run(s): {RUN} (2)\n")
    replay = run_cli("--ledger", ledger, "transcript", RUN)
    assert "hi from" not in replay.stdout and "by dpo: ticket 1]" in replay.stdout
    context = run_cli("--ledger", ledger, "context", RUN)
    assert "hi from" not in context.stdout and context.stdout.count("by dpo: ticket 1]") == 2
    verify = run_cli("--ledger", ledger, "verify")
    assert verify.returncode == 0, verify.stdout
    assert "erased: 2 payloads (chatsnapshot erase), each recorded by a system.erasure fact" in verify.stdout
    other = run_cli("--ledger", ledger, "replay", "other-run", "--format", "jsonl")
    assert "hi from other-run" in other.stdout


@pytest.mark.parametrize("args, message", [
    (["--reason", "x"], "name the runs to erase"),
    (["no-such-run", "--reason", "x"], "no run 'no-such-run'"),
    (["--where", "nonsense ===", "--reason", "x"], "not valid SQL"),
])
def test_erase_mistakes_are_exit_2_with_one_line(ledger, args, message):
    done = run_cli("--ledger", ledger, "erase", *args)
    assert done.returncode == 2 and message in done.stderr.splitlines()[0], done.stderr
    assert "Traceback" not in done.stderr and (done.stderr.count("\n") == 1 or "LINE 1: SELECT 1 FROM" in done.stderr)


def test_erase_on_a_mistyped_path_creates_nothing(tmp_path):
    done = run_cli("--ledger", str(tmp_path / "typo"), "erase", "x", "--reason", "x", "--yes")
    assert done.returncode == 2 and "no ledger" in done.stderr
    assert not (tmp_path / "typo").exists()
