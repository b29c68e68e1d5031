"""Several receivers, one ledger to query: a router keyed on the span's correlation attribute (the
loadbalancing exporter's ``routing_key: attributes``; tests/collector/router.py stands in for it)
in front of three ``chatsnapshot serve`` processes, each the one writer of its own ledger. Every
run lands whole in exactly one ledger, and the union query over the three equals the same load
sent to a single receiver."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from chatsnapshot.ledger import LedgerUnion
from tests.collector.test_collector import finish, wait_for
from tests.helpers import ROOT, free_port

RUNS, FACTS = 24, 40
SHAPE = ("SELECT correlation_id, count(*) AS n, list((payload->>'i')::INTEGER ORDER BY seq) AS facts, "
         "bool_and(seq = position_in_run) AS gapless FROM (SELECT *, row_number() OVER "
         "(PARTITION BY correlation_id ORDER BY seq) AS position_in_run FROM envelopes) GROUP BY 1 ORDER BY 1")


def serve(ledger, port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "chatsnapshot.cli.main", "--ledger", str(ledger), "serve",
                             "--grpc", f"127.0.0.1:{port}", "--http", "off"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout is not None and "receiving OTLP" in proc.stdout.readline()
    return proc


def app(endpoint: str) -> dict[str, list[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "collector" / "app.py"), endpoint, "routed",
                             str(RUNS), str(FACTS), "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    return finish(proc)


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=60)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chatsnapshot.cli.main", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_runs_routed_by_correlation_land_whole_in_one_ledger_and_the_union_equals_one_receiver(tmp_path):
    ledgers = [tmp_path / f"ledger-{k}" for k in range(3)]
    ports = [free_port() for _ in ledgers]
    receivers = [serve(ledger, port) for ledger, port in zip(ledgers, ports, strict=True)]
    router_port = free_port()
    router = subprocess.Popen([sys.executable, str(ROOT / "tests" / "collector" / "router.py"), str(router_port),
                               *(f"127.0.0.1:{p}" for p in ports)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert router.stdout is not None and router.stdout.readline().startswith("READY")
    try:
        routed = app(f"127.0.0.1:{router_port}")
        assert sorted(routed["acked"]) == sorted(routed["sent"])
        wait_for(lambda: cli("sql", *(f"--ledger={d}" for d in ledgers), "--format", "jsonl",
                             "SELECT count(*) AS n FROM envelopes").stdout.strip() == json.dumps({"n": RUNS * FACTS}),
                 "every routed fact to be readable", timeout=60)
    finally:
        router.communicate("", timeout=30)
        stop(receivers)

    single_ledger, single_port = tmp_path / "single", free_port()
    single = serve(single_ledger, single_port)
    try:
        alone = app(f"127.0.0.1:{single_port}")
        assert sorted(alone["acked"]) == sorted(alone["sent"])
    finally:
        stop([single])

    with LedgerUnion.open(ledgers) as union:
        assert union.conflicts() == []
        per_ledger = [{r.correlation_id for r in reader.runs()} for reader in union.readers]
        assert sum(map(len, per_ledger)) == RUNS and len(set().union(*per_ledger)) == RUNS  # each run in one
        assert sum(1 for runs in per_ledger if runs) == 3  # and the routing used every receiver
        shape = union.sql(SHAPE).to_pylist()
        assert union.verify().ok
    from chatsnapshot.ledger import Ledger

    with Ledger.open(single_ledger, readonly=True) as one:
        assert shape == one.sql(SHAPE).to_pylist()  # the same runs, the same facts in the same order
    assert all(row["gapless"] and row["n"] == FACTS for row in shape)
    listing = tmp_path / "ledgers.txt"
    listing.write_text("# the three receivers\n" + "\n".join(map(str, ledgers)) + "\n")
    verify = cli("verify", f"--ledger=@{listing}")
    assert verify.returncode == 0 and f"{RUNS * FACTS} envelopes in {RUNS} correlations" in verify.stdout
