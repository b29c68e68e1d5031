"""record() benchmark: the producer's cost per fact, and sustained facts/s through the spool.

    .venv/bin/python bench/record.py            # ~1 minute
    .venv/bin/python bench/record.py --quick

1. ``record()`` against a bare OTel span with one event carrying the same
   attributes (start, add_event, end: what hand-written instrumentation would
   do), on the same provider (``configure()``'s: BatchSpanProcessor into an
   embedded ledger), measured call by call, alternating one of each so both see
   the same machine and the same export load: p50 and p99 in µs, and the ratio.
2. Facts/s from ``record()`` through the durable spool to ``chatsnapshot serve``
   (its own process), until the receiver has acknowledged the last one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


def producer_cost(work: Path, n: int) -> tuple[list[int], list[int]]:
    import chatsnapshot

    pipeline = chatsnapshot.configure(ledger=work / "ledger-cost")
    tracer = pipeline.tracer
    payload = {"tool": "weather", "arguments": {"city": "Lisbon"}, "note": "x" * 200}
    record, clock = chatsnapshot.record, time.perf_counter_ns
    bare: list[int] = []
    ours: list[int] = []
    with chatsnapshot.correlation("bench"):
        from chatsnapshot.instrumentation.record import _attributes

        attributes = _attributes("execution.tool_call", None, payload, None, "agent", "custom", None, "planner")[0]
        for _block in range(n // 500):
            for _ in range(500):
                t = clock()
                span = tracer.start_span("execution.tool_call")
                span.add_event("execution.tool_call", attributes)
                span.end()
                t2 = clock()
                record("execution.tool_call", payload=payload, origin="agent", agent="planner")
                t3 = clock()
                bare.append(t2 - t)
                ours.append(t3 - t2)
            pipeline.force_flush()  # keep the export queue from filling: we measure the producer
    pipeline.shutdown()
    return bare, ours


def spool_rate(work: Path, n: int) -> float:
    import chatsnapshot

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    serve = subprocess.Popen([sys.executable, "-m", "chatsnapshot.cli.main", "--ledger", str(work / "ledger-spool"),
                              "serve", "--grpc", f"127.0.0.1:{port}", "--http", "off"],
                             stdout=subprocess.PIPE, text=True, env=env)
    assert serve.stdout is not None
    serve.stdout.readline()
    try:
        pipeline = chatsnapshot.configure(endpoint=f"127.0.0.1:{port}", spool_dir=work / "spool")
        payload = {"note": "y" * 300}
        started = time.perf_counter()
        with chatsnapshot.correlation("spool-bench"):
            for i in range(n):
                chatsnapshot.record("system.task_completed", payload={"i": i, **payload})
        if not pipeline.delivered(300_000):
            raise SystemExit("not delivered in 300 s")
        rate = n / (time.perf_counter() - started)
        pipeline.shutdown()
    finally:
        serve.terminate()
        serve.wait(timeout=60)
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer facts, for a smoke run")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="chatsnapshot-record-"))
    try:
        print("record() vs a bare span ...", file=sys.stderr)
        bare, ours = producer_cost(work, 5_000 if args.quick else 50_000)
        print("spool -> receiver ...", file=sys.stderr)
        rate = spool_rate(work, 5_000 if args.quick else 50_000)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    b50, b99, o50, o99 = percentile(bare, .5), percentile(bare, .99), percentile(ours, .5), percentile(ours, .99)
    print(f"\ncores: {os.cpu_count()}   python: {sys.version.split()[0]}   calls: {len(ours):,} each\n")
    rows = [
        ("measure", "record()", "bare span + event", "ratio", "target"),
        ("producer cost p50", f"{o50:.1f} µs", f"{b50:.1f} µs", f"{o50 / b50:.2f}x", "≤ 1.5x and ≤ 15 µs"),
        ("producer cost p99", f"{o99:.1f} µs", f"{b99:.1f} µs", f"{o99 / b99:.2f}x", ""),
        ("sustained, record() -> spool -> receiver", f"{rate:,.0f} facts/s", "", "", ""),
    ]
    widths = [max(len(r[i]) for r in rows) + 3 for i in range(5)]
    for row in rows:
        print("".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
