"""One command-line grammar, checked by walking every subcommand the parser has: a run is named by
its whole id or a unique start or end of it, locally and with --server; an unknown or ambiguous run
is exit 2 with one line; every --format word produces what it claims (JSON, JSON Lines, CSV with LF
line endings, a table); every command offering --server answers through a running receiver."""

from __future__ import annotations

import argparse
import csv
import io
import json

import pytest

from chatsnapshot.cli.main import build_parser
from chatsnapshot.ledger import Envelope
from tests.cli.test_cli import run_cli
from tests.receiver.conftest import start_receiver

RUN_A = "0190b6a2-7c4e-7d3a-9f1e-2b8c4d5e6f70"
RUN_B = "0190b6a2-7c4e-7d3a-9f1e-aaaaaaaaaaaa"  # the same start as RUN_A: only its end tells it apart
FIRST = "0190b6a2-7c4e-7d3a-9f1e-0000000000a1"  # RUN_A's first fact: what prove proves
EXTRA = {"view": ["-o", "{tmp}/run.html"], "tail": ["--after-position", "0", "--count", "3"]}
OPERANDS = {"sql": ["SELECT count(*) AS n FROM envelopes"], "prove": [FIRST]}  # for commands naming no run
NOT_READING = {"serve", "keygen", "append", "compact", "erase", "repair", "verify-proof", "schema",
               "fork",  # writes (its run names: tests/ledger/test_fork.py)
               "ui"}  # serves until stopped (its --server: tests/ui/test_ui_live.py)


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def takes_run(p: argparse.ArgumentParser) -> bool:
    return any(a.dest == "correlation_id" for a in p._actions)


def formats(p: argparse.ArgumentParser) -> list[str]:
    action = next((a for a in p._actions if a.dest == "format"), None)
    return [] if action is None else action.metavar.strip("{}").split(",")


def has_server(p: argparse.ArgumentParser) -> bool:
    return any(a.dest == "server" for a in p._actions)


def facts(run: str) -> list[Envelope]:
    started = Envelope.create("execution.run_started", correlation_id=run, origin="agent", agent="assistant",
                              payload={"agent": "assistant", "task": "weather"},
                              event_id=FIRST if run == RUN_A else None)
    asked = Envelope.create("execution.message", correlation_id=run, causation_id=started.event_id, origin="agent",
                            agent="user", payload={"role": "user", "content": "Weather in Paris?"})
    answered = Envelope.create("execution.message", correlation_id=run, causation_id=asked.event_id,
                               origin="agent", agent="assistant", payload={"role": "assistant", "content": "Sunny"})
    done = Envelope.create("execution.run_completed", correlation_id=run, causation_id=answered.event_id,
                           origin="agent", agent="assistant", payload={"status": "ok"})
    return [started, asked, answered, done]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A ledger of two runs, written by a running receiver (so both the directory and --server read it)."""
    path = tmp_path_factory.mktemp("grammar") / "ledger"
    receiver = start_receiver(path, http=None)
    receiver.ledger.append(facts(RUN_A) + facts(RUN_B) + facts("other-run"))
    receiver.ledger.seal()  # and so writes a checkpoint (checkpoint --server, prove --server)
    yield path, f"127.0.0.1:{receiver.grpc_port}"
    receiver.stop(grace=1)


def call(command: str, served, tmp_path, *args: str, server: bool = False):
    path, address = served
    where = ["--server", address] if server else []
    extra = [a.format(tmp=tmp_path) for a in EXTRA.get(command, [])]
    return run_cli("--ledger", str(path), command, *args, *where, *extra)


RUN_COMMANDS = sorted(name for name, p in subcommands().items() if takes_run(p) and name not in NOT_READING)


def test_the_walk_covers_the_commands_that_read_a_run():
    assert {"replay", "transcript", "timeline", "dag", "context", "stats", "view", "verify"} <= set(RUN_COMMANDS)


def test_every_command_that_reads_takes_server():
    reading = {name for name in subcommands() if name not in NOT_READING}
    assert {"sql", "runs", "prove", "checkpoint"} <= reading
    assert sorted(name for name in reading if not has_server(subcommands()[name])) == []


@pytest.mark.parametrize("server", [False, True], ids=["ledger", "server"])
@pytest.mark.parametrize("command", RUN_COMMANDS)
def test_a_run_is_named_by_its_id_a_unique_start_or_a_unique_end(served, tmp_path, command, server):
    for name in (RUN_A, "4d5e6f70", "other-"):
        done = call(command, served, tmp_path, name, server=server)
        assert done.returncode == 0, (name, done.stderr)
    for name, says in (("nope-nope", "no run"), ("0190b6a2", "of 2 runs")):
        done = call(command, served, tmp_path, name, server=server)
        assert done.returncode == 2 and says in done.stderr and done.stderr.count("\n") == 1, (name, done.stderr)
        assert "Traceback" not in done.stderr


def parses_as(fmt: str, text: str) -> None:
    assert text.strip(), f"{fmt}: no output"
    if fmt == "json":
        json.loads(text)
    elif fmt == "jsonl":
        for line in text.splitlines():
            json.loads(line)
    elif fmt == "csv":
        assert "\r" not in text
        rows = list(csv.reader(io.StringIO(text)))
        assert len(rows) >= 2 and len({len(r) for r in rows}) == 1  # a header and rows of its width
    elif fmt == "dot":
        assert text.startswith("digraph")
    elif fmt == "mermaid":
        assert text.startswith("flowchart") or text.startswith("graph")


FORMATTED = sorted((name, fmt) for name, p in subcommands().items() for fmt in formats(p))


@pytest.mark.parametrize("command, fmt", FORMATTED)
def test_every_format_word_produces_what_it_claims(served, tmp_path, command, fmt):
    args = {"sql": ["SELECT correlation_id, seq, payload, causation_id FROM envelopes ORDER BY 1, 2"]}.get(
        command, [RUN_A] if takes_run(subcommands()[command]) else [])
    done = call(command, served, tmp_path, *args, "--format", fmt)
    assert done.returncode == 0, done.stderr
    parses_as(fmt, done.stdout)


def test_json_stays_json_and_null_stays_null(served, tmp_path):
    done = call("sql", served, tmp_path, "--format", "jsonl", "SELECT payload, NULL AS nothing, 'null' AS word "
                "FROM envelopes WHERE seq = 1 LIMIT 1")
    row = json.loads(done.stdout)
    assert isinstance(row["payload"], dict) and row["nothing"] is None and row["word"] == "null"
    table = call("sql", served, tmp_path, "SELECT NULL AS nothing, 'null' AS word")
    assert table.stdout.splitlines()[1].split() == ["NULL", "null"]


def test_database_hints_are_kept(served, tmp_path):
    done = call("sql", served, tmp_path, "SELECT correlation FROM envelopes")
    assert done.returncode == 2 and "correlation_id" in done.stderr  # DuckDB's candidate binding


@pytest.mark.parametrize("command", sorted(n for n, p in subcommands().items() if has_server(p)
                                           and n not in NOT_READING | set(RUN_COMMANDS)))
def test_every_command_offering_server_answers_through_the_receiver(served, tmp_path, command):
    done = call(command, served, tmp_path, *OPERANDS.get(command, []), server=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
