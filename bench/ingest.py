"""Ingest benchmark: durable end-to-end OTLP/gRPC ingestion into the ledger.

    .venv/bin/python bench/ingest.py            # ~1.5 minutes
    .venv/bin/python bench/ingest.py --quick    # a smoke run

The receiver is ``chatsnapshot serve`` in its own process, as deployed. Clients
are 4 threads sending pre-built OTLP requests (512 spans, one fact event each,
~400-byte payloads, pre-serialised so the client costs little) as raw gRPC
calls, each re-sent until acknowledged. Measured in the same run:

- a null receiver: a grpcio server in its own process that parses each request
  and counts its spans, then answers success (the practical Python ceiling);
- visibility: at half the measured maximum rate, the time from sending a
  request to its facts arriving on a ``LedgerService.Tail`` stream;
- the receiver's peak RSS under the sustained load;
- overload: the capacity measured again on the ledger as it then is (everything
  above in it, compaction catching up), then 3x that offered for 20 s (5 s with
  --quick) by 16 clients, each request sent once with a 5 s deadline: goodput
  (facts per second whose client was answered OK) against that capacity, the
  answers by code, and the peak RSS.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from chatsnapshot.ledger import uuid7
from chatsnapshot.proto import attributes as A

ROOT = Path(__file__).resolve().parents[1]
SPANS = 512
CLIENTS = 4
TRIALS = 3  # rates are the median of this many runs: the machines are shared and noisy
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
WORDS = (
    "agent", "tool", "call", "result", "user", "weather", "summary", "plan", "step", "retry", "answer",
    "model", "token", "context", "message", "reply", "handoff", "human", "input", "approve", "reject", "the",
    "of", "and", "to", "in", "for", "with", "on", "by",
)

NULL_RECEIVER = r'''
import sys, threading
from concurrent import futures
import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as ts
count = [0]; lock = threading.Lock()
def export(body, context):
    request = ts.ExportTraceServiceRequest.FromString(body)
    n = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
    with lock:
        count[0] += n
    return ts.ExportTraceServiceResponse().SerializeToString()
handler = grpc.unary_unary_rpc_method_handler(export, request_deserializer=None, response_serializer=None)
server = grpc.server(futures.ThreadPoolExecutor(16))
server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
    "opentelemetry.proto.collector.trace.v1.TraceService", {"Export": handler}),))
server.add_insecure_port("127.0.0.1:" + sys.argv[1]); server.start()
print("READY", flush=True); sys.stdin.read(); server.stop(0)
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_request(rng: random.Random, correlation: str) -> bytes:
    request = trace_service_pb2.ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = "bench"
    scope = rs.scope_spans.add()
    trace_id = rng.randbytes(16)
    now = time.time_ns()
    for i in range(SPANS):
        span = scope.spans.add(trace_id=trace_id, span_id=rng.randbytes(8), name="fact",
                               start_time_unix_nano=now + i, end_time_unix_nano=now + i + 1000)
        event = span.events.add(time_unix_nano=now + i, name="execution.message")
        text = " ".join(rng.choice(WORDS) for _ in range(60))
        for key, value in ((A.EVENT_TYPE, "execution.message"), (A.EVENT_ID, uuid7()),
                           (A.CORRELATION_ID, correlation), (A.SOURCE_ORIGIN, "agent"),
                           (A.SOURCE_RUNTIME, "custom"), (A.PAYLOAD, f'{{"i": {i}, "text": "{text}"}}')):
            event.attributes.add(key=key).value.string_value = value
    return request.SerializeToString()


def fresh(requests: list[bytes]) -> list[bytes]:
    """The same requests with new event ids: each trial commits new facts (re-sent ones would only be
    found as duplicates, a different and cheaper path)."""
    out = []
    for body in requests:
        request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
        for span in request.resource_spans[0].scope_spans[0].spans:
            for attribute in span.events[0].attributes:
                if attribute.key == A.EVENT_ID:
                    attribute.value.string_value = uuid7()
                    break
        out.append(request.SerializeToString())
    return out


def send(call, body: bytes) -> None:
    while True:
        try:
            call(body, timeout=60)
            return
        except grpc.RpcError as e:
            if e.code() is not grpc.StatusCode.UNAVAILABLE:
                raise
            time.sleep(0.05)


def drive(port: int, requests: list[bytes]) -> float:
    """Send every request from CLIENTS threads; envelopes (spans) per second."""
    chunks = [requests[k::CLIENTS] for k in range(CLIENTS)]

    def client(chunk: list[bytes]) -> None:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary(EXPORT, request_serializer=None, response_deserializer=None)
            for body in chunk:
                send(call, body)

    return len(requests) * SPANS / in_threads(client, chunks)


def in_threads(work, chunks: list) -> float:
    """Seconds to run ``work(chunk)`` for every chunk, one thread each, all at once."""
    threads = [threading.Thread(target=work, args=(c,)) for c in chunks]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "READY" not in line and "receiving OTLP" not in line:
        raise SystemExit(f"server did not start: {line!r}")
    return proc


class RssSampler(threading.Thread):
    """Peak RSS of a process and its children (the receiver's worker processes) together, and
    each one's own peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()
        self.own: dict[int, int] = {}  # pid -> its peak RSS

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                sizes = {p: _rss(p) for p in _tree(self.pid)}
            except OSError:
                return
            self.peak = max(self.peak, sum(sizes.values()))
            for p, size in sizes.items():
                self.own[p] = max(self.own.get(p, 0), size)
            time.sleep(0.05)

    def describe(self) -> str:
        """Each process's own peak, the receiver's first."""
        names = {self.pid: "receiver"}
        return ", ".join(f"{names.get(p, f'child {p}')} {size / 2**20:.0f} MiB"
                         for p, size in sorted(self.own.items(), key=lambda kv: kv[0] != self.pid))


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").iterdir():
            with contextlib.suppress(OSError):
                todo += [int(c) for c in (task / "children").read_text().split()]
    return out


def _rss(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def visibility(port: int, rng: random.Random, rate: float, seconds: float) -> list[float]:
    """Send at ``rate`` envelopes/s; seconds from send to the first fact on a Tail stream, per request."""
    from chatsnapshot.receiver.client import LedgerClient

    n = max(4, int(rate * seconds / SPANS))
    requests = [(f"vis-{k}", build_request(rng, f"vis-{k}")) for k in range(n)]
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    acked: dict[str, float] = {}
    done = threading.Event()

    def follow() -> None:
        with LedgerClient(f"127.0.0.1:{port}") as client:
            for envelope in client.tail(after_position=None):
                c = envelope.correlation_id
                if c not in seen and c.startswith("vis-"):
                    seen[c] = time.perf_counter()
                    if len(seen) == n:
                        done.set()
                        return

    threading.Thread(target=follow, daemon=True).start()
    time.sleep(0.5)  # the tail is listening
    interval = SPANS / rate
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(EXPORT, request_serializer=None, response_deserializer=None)
        next_at = time.perf_counter()
        for correlation, body in requests:
            time.sleep(max(0.0, next_at - time.perf_counter()))
            sent[correlation] = time.perf_counter()

            def send_one(correlation: str = correlation, body: bytes = body) -> None:
                send(call, body)
                acked[correlation] = time.perf_counter()

            threading.Thread(target=send_one, daemon=True).start()
            next_at += interval
        done.wait(60)
    acks = sorted(acked[c] - sent[c] for c in acked)
    print(f"  ack latency p50 {acks[len(acks) // 2] * 1000:.0f} ms, max {acks[-1] * 1000:.0f} ms", file=sys.stderr)
    return sorted(seen[c] - sent[c] for c in seen)


OVERLOAD_CLIENTS = 16
_HEADROOM = 1.25  # requests built for a capacity up to this much above the first measure


def overload(port: int, requests: list[bytes], capacity: float, seconds: float) -> tuple[float, dict[str, int]]:
    """Offer 3x ``capacity`` (envelopes/s) for ``seconds``: goodput and the answers by code."""
    per_request = 3 * capacity / SPANS  # requests per second offered in all
    interval = OVERLOAD_CLIENTS / per_request
    codes: dict[str, int] = {}
    lock = threading.Lock()
    chunks = [requests[k::OVERLOAD_CLIENTS] for k in range(OVERLOAD_CLIENTS)]
    started = time.perf_counter()
    stop = started + seconds

    def client(chunk: list[bytes]) -> None:
        """Sends at its pace whatever the answers (an open-loop load, as many independent producers
        make), then collects every answer."""
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary(EXPORT, request_serializer=None, response_deserializer=None)
            next_at, pending = time.perf_counter(), []
            for body in chunk:
                if time.perf_counter() >= stop:
                    break
                time.sleep(max(0.0, next_at - time.perf_counter()))
                next_at += interval
                pending.append(call.future(body, timeout=5))
            for future in pending:
                try:
                    future.result()
                    code = "OK"
                except grpc.RpcError as e:
                    code = e.code().name
                with lock:
                    codes[code] = codes.get(code, 0) + 1

    threads = [threading.Thread(target=client, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes.get("OK", 0) * SPANS / (time.perf_counter() - started), codes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests, for a smoke run")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2], metavar="N",
                        help="receiver --workers settings to measure (default: 0 1 2); the last is used for "
                             "visibility and RSS")
    parser.add_argument("--overload-seconds", type=float, default=None, metavar="S",
                        help="how long the overload row offers 3x capacity (default 20, 5 with --quick)")
    args = parser.parse_args()
    rng = random.Random(11)
    n_requests = 40 if args.quick else 240
    print(f"building {n_requests} requests of {SPANS} spans ...", file=sys.stderr)
    requests = [build_request(rng, f"run-{k % 64}") for k in range(n_requests)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    work = Path(tempfile.mkdtemp(prefix="chatsnapshot-ingest-"))
    try:
        print("null receiver ...", file=sys.stderr)
        port = free_port()
        null = start(["-c", NULL_RECEIVER, str(port)], env)
        drive(port, requests[: n_requests // 4])  # warm up
        null_rate = statistics.median(drive(port, fresh(requests)) for _ in range(TRIALS))
        null.communicate("", timeout=30)

        rates: dict[int, float] = {}
        for workers in args.workers:
            print(f"chatsnapshot serve --workers {workers} ...", file=sys.stderr)
            shutil.rmtree(work / "ledger", ignore_errors=True)
            port = free_port()
            serve = start(["-m", "chatsnapshot.cli.main", "--ledger", str(work / "ledger"), "serve",
                           "--grpc", f"127.0.0.1:{port}", "--http", "off", "--workers", str(workers)], env)
            sampler = RssSampler(serve.pid)
            sampler.start()
            rates[workers] = rate = statistics.median(drive(port, fresh(requests)) for _ in range(TRIALS))
            sampler.stop.set()
            if workers != args.workers[-1]:
                serve.terminate()
                serve.wait(timeout=60)
        print("visibility at half rate ...", file=sys.stderr)
        latencies = visibility(port, rng, rate / 2, 4 if args.quick else 10)
        seconds = args.overload_seconds or (5.0 if args.quick else 20.0)
        n_over = int(3 * _HEADROOM * rate * seconds / SPANS) + OVERLOAD_CLIENTS
        print(f"overload: building {n_over} requests ...", file=sys.stderr)
        flood = [build_request(rng, f"over-{k % 64}") for k in range(n_over)]
        # The flood meets a ledger that holds everything sent so far (and compacts it), not the
        # empty one the rates above were measured on: what it is 3x of, and what goodput is compared
        # with, is measured on that ledger, just before.
        print("capacity of the receiver as the flood will find it ...", file=sys.stderr)
        capacity = statistics.median(drive(port, fresh(requests)) for _ in range(TRIALS))
        print(f"overload: 3x {capacity:,.0f}/s for {seconds:.0f} s ...", file=sys.stderr)
        if 3 * capacity * seconds / SPANS > n_over:
            print(f"  (only {n_over} requests were built: the offer falls short of 3x towards the end)",
                  file=sys.stderr)
        over_rss = RssSampler(serve.pid)
        over_rss.start()
        goodput, codes = overload(port, flood, capacity, seconds)
        over_rss.stop.set()
        del flood
        serve.terminate()
        serve.wait(timeout=60)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    print(f"\ncores: {os.cpu_count()}   python: {sys.version.split()[0]}   requests: {n_requests} x {SPANS} spans, "
          f"{CLIENTS} clients, OTLP/gRPC   rates: median of {TRIALS} runs\n")
    rows = [("measure", "chatsnapshot serve", "null receiver", "ratio", "target")]
    rows += [(f"durable ingest, --workers {w}, env/s", f"{r:,.0f}", f"{null_rate:,.0f}", f"{r / null_rate:.2f}x",
              "≥ 50,000") for w, r in rates.items()]
    rows += [
        (f"visibility p50 / p99 at {rate / 2:,.0f}/s", f"{pct(0.5):.0f} / {pct(0.99):.0f} ms", "", "",
         "p99 ≤ 1000 ms"),
        (f"receiver peak RSS, all processes (--workers {args.workers[-1]})", f"{sampler.peak / 2**20:.0f} MiB", "", "",
         "≤ 300 MiB"),
        (f"capacity as the flood finds it, --workers {args.workers[-1]}, env/s", f"{capacity:,.0f}", "", "", ""),
        (f"overload 3x for {seconds:.0f} s: goodput, env/s", f"{goodput:,.0f}", f"capacity {capacity:,.0f}",
         f"{goodput / capacity:.2f}x", "≥ 0.90x"),
        ("overload: answers", ", ".join(f"{c} {n}" for c, n in sorted(codes.items())), "", "",
         "0 DEADLINE_EXCEEDED"),
        ("overload: receiver peak RSS", f"{over_rss.peak / 2**20:.0f} MiB", "", "", "≤ 300 MiB"),
    ]
    widths = [max(len(r[i]) for r in rows) + 3 for i in range(5)]
    for row in rows:
        print("".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print(f"\nvisibility: {len(latencies)} requests, median {statistics.median(latencies) * 1000:.0f} ms")
    print(f"overload peak RSS of each process: {over_rss.describe()}")
    print(f"overload goodput against the rate measured on the empty ledger ({rate:,.0f}): {goodput / rate:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
