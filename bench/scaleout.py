"""Scale-out benchmark: N receivers on this machine, and queries over N ledgers read as one.

    .venv/bin/python bench/scaleout.py            # ~3 minutes
    .venv/bin/python bench/scaleout.py --quick    # a smoke run

Two tables, each against a baseline measured in the same run:

- ingest: 1 receiver (``chatsnapshot serve --workers 0``) against 2 and 3, each its
  own process with its own ledger, loaded by the same 4 clients (bench/ingest.py's
  requests: 512 spans, one fact each, ~700-byte payloads), every request sent to the
  receiver its run routes to. On one machine the receivers share its cores: the
  number says what routing costs, not what N machines give.
- union: the same envelopes in 1 ledger and split by run over N ledgers
  (``LedgerUnion``); the time of three queries, warm, median of 5: a count, a
  GROUP BY over every run, and one run's replay.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc
import ingest

from chatsnapshot.ledger import Envelope, Ledger, LedgerUnion

ROOT = Path(__file__).resolve().parents[1]
RUNS = 64


def route(run: str, n: int) -> int:
    return int.from_bytes(hashlib.sha256(run.encode()).digest()[:8], "big") % n


def ingest_rate(n: int, requests: list[tuple[str, bytes]], work: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    ports = [ingest.free_port() for _ in range(n)]
    procs = [ingest.start(["-m", "chatsnapshot.cli.main", "--ledger", str(work / f"n{n}-{k}"), "serve",
                           "--grpc", f"127.0.0.1:{p}", "--http", "off", "--workers", "0"], env)
             for k, p in enumerate(ports)]
    try:
        chunks = [requests[k::ingest.CLIENTS] for k in range(ingest.CLIENTS)]

        def client(chunk: list[tuple[str, bytes]]) -> None:
            channels = [grpc.insecure_channel(f"127.0.0.1:{p}") for p in ports]
            calls = [c.unary_unary(ingest.EXPORT, request_serializer=None, response_deserializer=None)
                     for c in channels]
            for run, body in chunk:
                ingest.send(calls[route(run, n)], body)
            for c in channels:
                c.close()

        return len(requests) * ingest.SPANS / ingest.in_threads(client, chunks)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=60)


def timed(work, rounds: int = 5) -> float:
    work()  # warm
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def build_ledgers(work: Path, envelopes: int, splits: list[int]) -> dict[int, list[Path]]:
    rng = random.Random(5)
    facts = [Envelope.create("execution.message", correlation_id=f"run-{i % RUNS}",
                             payload={"i": i, "text": " ".join(rng.choice(ingest.WORDS) for _ in range(60))})
             for i in range(envelopes)]
    out: dict[int, list[Path]] = {}
    for n in splits:
        paths = [work / f"union-{n}-{k}" for k in range(n)]
        ledgers = [Ledger.open(p) for p in paths]
        for start in range(0, len(facts), 512):
            batch = facts[start:start + 512]
            for k, ledger in enumerate(ledgers):
                part = [f for f in batch if route(f.correlation_id, n) == k]
                if part:
                    ledger.append(part)
        for ledger in ledgers:
            ledger.close()
        out[n] = paths
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests and envelopes, for a smoke run")
    args = parser.parse_args()
    rng = random.Random(11)
    n_requests = 48 if args.quick else 240
    print(f"building {n_requests} requests of {ingest.SPANS} spans ...", file=sys.stderr)
    requests = [(f"run-{k % RUNS}", ingest.build_request(rng, f"run-{k % RUNS}")) for k in range(n_requests)]
    work = Path(tempfile.mkdtemp(prefix="chatsnapshot-scaleout-"))
    try:
        rates = {}
        for n in (1, 2, 3):
            print(f"{n} receiver(s) ...", file=sys.stderr)
            fresh = list(zip((r for r, _ in requests), ingest.fresh([b for _, b in requests]), strict=True))
            rates[n] = ingest_rate(n, fresh, work)
        envelopes = 50_000 if args.quick else 400_000
        print(f"building ledgers of {envelopes:,} envelopes, split 1/2/4/8 ways ...", file=sys.stderr)
        splits = build_ledgers(work, envelopes, [1, 2, 4, 8])
        queries = {
            "count(*)": lambda u: u.sql("SELECT count(*) FROM envelopes"),
            "GROUP BY run": lambda u: u.sql("SELECT correlation_id, count(*), max(seq) FROM envelopes GROUP BY 1"),
            "replay one run": lambda u: list(u.replay("run-7")),
        }
        times: dict[int, dict[str, float]] = {}
        for n, paths in splits.items():
            with (Ledger.open(paths[0], readonly=True) if n == 1 else LedgerUnion.open(paths)) as source:
                times[n] = {name: timed(lambda q=q, s=source: q(s)) for name, q in queries.items()}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\ncores: {os.cpu_count()}   python: {sys.version.split()[0]}   ingest: {n_requests} x {ingest.SPANS} "
          f"spans, {ingest.CLIENTS} clients, routed by run   union: {envelopes:,} envelopes in {RUNS} runs\n")
    rows = [("receivers on this machine", "durable ingest, env/s", "vs 1 receiver")]
    rows += [(str(n), f"{r:,.0f}", f"{r / rates[1]:.2f}x") for n, r in rates.items()]
    rows += [("", "", ""), ("ledgers read as one", *(f"{q}, ms" for q in queries))]
    rows += [(f"{n}" + (" (one ledger: baseline)" if n == 1 else ""),
              *(f"{times[n][q] * 1000:.1f} ({times[n][q] / times[1][q]:.2f}x)" for q in queries)) for n in times]
    widths = [max(len(r[i]) for r in rows if len(r) > i) + 3 for i in range(max(map(len, rows)))]
    for row in rows:
        print("".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
