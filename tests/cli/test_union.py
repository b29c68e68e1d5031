"""sql, runs, replay and verify over several ledgers (one per receiver) as one; a run found in two
of them is a routing error, never merged."""

from __future__ import annotations

import json

import pytest

from chatsnapshot.ledger import Envelope, Ledger
from tests.cli.test_cli import run_cli


def make(path, runs: dict[str, int]) -> str:
    with Ledger.open(path) as ledger:
        for run, n in runs.items():
            ledger.append([Envelope.create("system.task_scheduled", correlation_id=run, payload={"k": k})
                           for k in range(n)])
    return str(path)


@pytest.fixture
def two(tmp_path):
    return make(tmp_path / "a", {"run-a1": 2, "run-a2": 1}), make(tmp_path / "b", {"run-b1": 3})


def test_the_union_answers_over_every_ledger(two, tmp_path):
    a, b = two
    flags = ["--ledger", a, "--ledger", b]
    done = run_cli("sql", *flags, "--format", "jsonl", "SELECT correlation_id, count(*) AS n FROM envelopes "
                   "GROUP BY 1 ORDER BY 1")
    assert done.returncode == 0, done.stderr
    assert [json.loads(line) for line in done.stdout.splitlines()] == [
        {"correlation_id": "run-a1", "n": 2}, {"correlation_id": "run-a2", "n": 1},
        {"correlation_id": "run-b1", "n": 3}]
    runs = run_cli("runs", *flags, "--format", "jsonl")
    assert sorted(json.loads(line)["correlation_id"] for line in runs.stdout.splitlines()) == \
        ["run-a1", "run-a2", "run-b1"]
    replay = run_cli("replay", *flags, "b1", "--format", "jsonl")  # a suffix, found in the second ledger
    assert replay.returncode == 0 and len(replay.stdout.splitlines()) == 3
    listing = tmp_path / "ledgers.txt"
    listing.write_text(f"{a}\n\n{b}  # the second receiver\n")
    verify = run_cli("verify", f"--ledger=@{listing}")
    assert verify.returncode == 0 and "6 envelopes in 3 correlations" in verify.stdout


def test_a_run_in_two_ledgers_is_a_routing_error_never_merged(two, tmp_path):
    a, b = two
    split = make(tmp_path / "c", {"run-a1": 1})  # part of run-a1 went to another receiver
    flags = ["--ledger", a, "--ledger", b, "--ledger", split]
    for command in (["runs"], ["sql", "SELECT count(*) FROM envelopes"], ["replay", "run-a1"]):
        done = run_cli(*command[:1], *flags, *command[1:])
        assert done.returncode == 2, (command, done.stdout)
        assert "run run-a1 is in 2 ledgers" in done.stderr and a in done.stderr and split in done.stderr
        assert done.stdout == ""
    verify = run_cli("verify", *flags)
    assert verify.returncode == 1
    assert "BROKEN correlation run-a1 seq 1: run run-a1 is in 2 ledgers" in verify.stdout
    one = run_cli("verify", *flags, "run-a1")  # the split run itself: the same answer, no
    assert one.returncode == 1 and "is in 2 ledgers" in one.stdout
    assert run_cli("replay", *flags, "run-b1").returncode == 0  # runs routed whole still read


def test_commands_of_one_ledger_refuse_several(two):
    a, b = two
    done = run_cli("transcript", "--ledger", a, "--ledger", b, "run-a1")
    assert done.returncode == 2 and "works on one ledger" in done.stderr
