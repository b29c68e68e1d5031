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


def test_sql_through_the_server_reads_the_unsealed_tail_and_keeps_json(receiver):
    body, ids = facts_request("sql-run", 4)
    raw_export(receiver.grpc_port, body)
    server = f"127.0.0.1:{receiver.grpc_port}"
    with LedgerClient(server) as client:
        table, json_names = client.sql("SELECT event_id::TEXT AS id, payload FROM envelopes "
                                       "WHERE correlation_id = 'sql-run' ORDER BY seq")
    assert table.column("id").to_pylist() == ids and json_names == {"payload"}
    out = cli("sql", "--server", server, "--format", "jsonl",
              "SELECT seq, payload FROM envelopes WHERE correlation_id = 'sql-run' ORDER BY seq")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["seq"] for r in rows] == [1, 2, 3, 4] and all(isinstance(r["payload"], dict) for r in rows)


def test_sql_through_the_server_only_reads_the_ledger(receiver, tmp_path):
    """A token holder can query the ledger, not the machine: writing statements, settings, other
    files, attaching databases are refused with the reason, and nothing is written."""
    secret = tmp_path / "secret.csv"
    secret.write_text("password\nhunter2\n")
    server = f"127.0.0.1:{receiver.grpc_port}"
    refused = {
        f"COPY (SELECT 1) TO '{receiver.ledger.path}/planted.csv'": "COPY is not allowed",
        "SET enable_external_access = true": "SET is not allowed",
        f"ATTACH '{tmp_path}/other.duckdb'": "ATTACH is not allowed",
        "CREATE TABLE t AS SELECT 1": "CREATE is not allowed",
        f"SELECT * FROM read_csv('{secret}')": "disabled by configuration",
        "SELECT 1; DROP VIEW envelopes": "DROP is not allowed",
        f"EXPLAIN ANALYZE COPY (SELECT 1) TO '{receiver.ledger.path}/planted.csv'": "EXPLAIN is not allowed",
        "SELECT 1 AS a; SELECT payload FROM envelopes; SET threads = 4": "SET is not allowed",
    }
    for query, says in refused.items():
        out = cli("sql", "--server", server, query)
        assert out.returncode == 2 and says in out.stderr and "INVALID_ARGUMENT" in out.stderr, (query, out.stderr)
        assert "hunter2" not in out.stdout + out.stderr
    assert not (receiver.ledger.path / "planted.csv").exists() and not (tmp_path / "other.duckdb").exists()
    out = cli("sql", "--server", server, "SELECT 1 AS a; SELECT payload FROM envelopes LIMIT 1", "--format", "jsonl")
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr  # several statements: the last answers
    out = cli("sql", "--server", server, "SELECT count(*) AS n FROM envelopes")
    assert out.returncode == 0, out.stderr  # the views still stand after the DROP was refused


def test_a_server_query_stops_at_the_callers_deadline(receiver):
    import grpc

    with LedgerClient(f"127.0.0.1:{receiver.grpc_port}") as client:
        try:
            client.sql("SELECT count(*) FROM range(100000000000) a, range(1000) b", timeout=1.0)
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        else:
            raise AssertionError("a query of 10^14 rows answered within a second")
        table, _ = client.sql("SELECT 42 AS answer")  # the connection is free again
    assert table.column("answer").to_pylist() == [42]


def test_prove_and_checkpoint_through_the_server(receiver, tmp_path):
    body, ids = facts_request("prove-run", 3)
    raw_export(receiver.grpc_port, body)
    server = f"127.0.0.1:{receiver.grpc_port}"
    out = cli("prove", ids[1], "--server", server)
    assert out.returncode == 2 and "no checkpoint yet" in out.stderr  # nothing sealed yet: said, not a traceback
    receiver.ledger.seal()
    out = cli("checkpoint", "--server", server, "-o", str(tmp_path / "cp.txt"))
    assert out.returncode == 0, out.stderr
    out = cli("prove", ids[1], "--server", server, "-o", str(tmp_path / "proof.json"))
    assert out.returncode == 0, out.stderr
    out = cli("verify-proof", str(tmp_path / "proof.json"), "--checkpoint", str(tmp_path / "cp.txt"))
    assert out.returncode == 0 and out.stdout.startswith(f"proven: envelope {ids[1]}"), out.stdout
    out = cli("prove", "0190b6a2-7c4e-7d3a-9f1e-000000000000", "--server", server)
    assert out.returncode == 2 and "NOT_FOUND" in out.stderr
