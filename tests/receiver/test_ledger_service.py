"""LedgerService (Replay, Tail, Verify) and the command line's --server."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

from chatsnapshot.receiver.client import LedgerClient
from tests.receiver.test_bad_input import raw_export
from tests.receiver.test_delivery import facts_request


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chatsnapshot.cli.main", *args], capture_output=True, text=True,
                          timeout=60)


def test_replay_and_verify_through_the_server_see_what_is_not_sealed_yet(receiver):
    body, ids = facts_request("svc-run", 5)
    raw_export(receiver.grpc_port, body)
    server = f"127.0.0.1:{receiver.grpc_port}"
    out = cli("replay", "svc-run", "--server", server, "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    assert [json.loads(line)["event_id"] for line in out.stdout.splitlines()] == ids
    out = cli("verify", "--server", server)
    assert out.returncode == 0 and out.stdout.startswith("ok: 5 envelopes in 1 correlation")
    with LedgerClient(server) as client:
        assert [e.seq for e in client.replay("svc-run", after_seq=3)] == [4, 5]


def test_tail_follows_commits_in_position_order(receiver):
    server = f"127.0.0.1:{receiver.grpc_port}"
    first, first_ids = facts_request("tail-a", 3)
    raw_export(receiver.grpc_port, first)
    got: list[str] = []
    with LedgerClient(server) as client:
        stream = client.tail(after_position=0)
        got += [next(stream).event_id for _ in range(3)]  # what was there before
        later, later_ids = facts_request("tail-b", 4)
        threading.Timer(0.2, raw_export, args=(receiver.grpc_port, later)).start()
        got += [next(stream).event_id for _ in range(4)]  # what commits while we wait
        stream.close()
    assert got == first_ids + later_ids


def test_the_cli_says_clearly_when_no_receiver_answers():
    out = cli("replay", "x", "--server", "127.0.0.1:9")
    assert out.returncode == 2
    assert out.stderr.strip() == ("chatsnapshot: error: no receiver answering at 127.0.0.1:9 "
                                  "(is 'chatsnapshot serve' running there?)")


def test_tail_cli_reads_the_ledger_directory(receiver, tmp_path):
    body, ids = facts_request("tail-dir", 3)
    raw_export(receiver.grpc_port, body)
    receiver.ledger.seal()
    out = cli("--ledger", str(receiver.ledger.path), "tail", "--after-position", "0", "--count", "3",
              "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    assert [json.loads(line)["event_id"] for line in out.stdout.splitlines()] == ids
