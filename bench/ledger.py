"""Ledger benchmark: durable append, point replay at scale, bytes on disk.

    .venv/bin/python bench/ledger.py            # the full run (10M envelopes; several minutes)
    .venv/bin/python bench/ledger.py --quick    # 1/10 of everything, for a smoke run

Every number is measured in this run, next to a baseline measured in the same
run on the same data: JSON Lines written with one fsync per batch, and replay by
scanning that file. Payloads are ~700 bytes of JSON whose text comes from a
word-bigram model of the Python standard library's docstrings (real English,
no verbatim repeats), so compression is neither flattered nor starved.

Prints one table; ``--json FILE`` also writes the numbers.
"""

from __future__ import annotations

import argparse
import collections
import gc
import importlib
import itertools
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

from chatsnapshot.ledger import Envelope, Ledger, LedgerOptions, envelope_to_json

BATCH = 512
RUN_LENGTH = 300
ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("chatsnapshot", "ledger", "proto", "receiver", "exporter", "instrumentation")


# -- realistic text ------------------------------------------------------------------

class Text:
    """Word-bigram text trained on stdlib docstrings (deterministic)."""

    MODULES = (
        "os", "json", "asyncio", "collections", "typing", "pathlib", "subprocess", "threading", "http.client",
        "email.message", "argparse", "logging", "unittest", "decimal", "datetime", "sqlite3", "socket", "ssl", "csv",
        "zipfile", "tarfile", "shutil", "inspect", "functools", "itertools", "re", "string", "textwrap",
    )

    def __init__(self, seed: int = 7) -> None:
        docs = []
        with warnings.catch_warnings():  # some stdlib attributes warn when touched (typing.re, ...)
            warnings.simplefilter("ignore")
            for name in self.MODULES:
                module = importlib.import_module(name)
                for attr in dir(module):
                    doc = getattr(getattr(module, attr, None), "__doc__", None)
                    if isinstance(doc, str):
                        docs.append(doc)
        words = " ".join(docs).split()
        self.chain: dict[str, list[str]] = collections.defaultdict(list)
        for a, b in itertools.pairwise(words):
            self.chain[a].append(b)
        self.keys = list(self.chain)
        self.rnd = random.Random(seed)

    def __call__(self, chars: int) -> str:
        rnd, chain = self.rnd, self.chain
        word = rnd.choice(self.keys)
        out, size = [word], len(word)
        while size < chars:
            nxt = chain.get(word)
            word = rnd.choice(nxt) if nxt else rnd.choice(self.keys)
            out.append(word)
            size += len(word) + 1
        return " ".join(out)[:chars]


def payload(text: str, rnd: random.Random, turn: int) -> dict:
    return {"role": rnd.choice(("assistant", "user", "tool")), "content": text, "model": "gpt-4o-mini",
            "turn": turn, "usage": {"prompt_tokens": rnd.randint(20, 4000), "completion_tokens": rnd.randint(5, 800)}}


EVENT_TYPES = ("execution.message", "execution.llm_call", "execution.tool_call", "execution.tool_result",
               "execution.turn_started", "execution.turn_completed")


class Runs:
    """Facts of many concurrent runs, interleaved as a busy service would see them:
    ``active`` runs at a time, each ~RUN_LENGTH facts, each fact caused by the previous."""

    def __init__(self, texts: list[str] | Text, active: int = 1000, seed: int = 1) -> None:
        self.texts = texts
        self.rnd = random.Random(seed)
        self.active = active
        self.next_run = 0
        self.runs: list[list] = [self._new() for _ in range(active)]

    def _new(self) -> list:
        self.next_run += 1
        return [f"run-{self.next_run:08d}", 0, None]  # correlation, count, last event id

    def _text(self) -> str:
        if isinstance(self.texts, Text):
            return self.texts(560)
        return self.texts[self.rnd.randrange(len(self.texts))]

    def batch(self, n: int) -> list[Envelope]:
        out = []
        for _ in range(n):
            i = self.rnd.randrange(self.active)
            run = self.runs[i]
            env = Envelope.create(
                EVENT_TYPES[run[1] % len(EVENT_TYPES)], correlation_id=run[0], causation_id=run[2],
                payload=payload(self._text(), self.rnd, run[1]), origin="agent", runtime="ag2",
                service="bench", agent=("planner", "coder", "critic")[run[1] % 3],
            )
            run[1] += 1
            run[2] = env.event_id
            if run[1] >= RUN_LENGTH:
                self.runs[i] = self._new()
            out.append(env)
        return out


# -- measurements ----------------------------------------------------------------------

def dir_bytes(path: Path, *subdirs: str) -> int:
    return sum(f.stat().st_size for d in subdirs for f in (path / d).rglob("*") if f.is_file())


def jsonl_write(path: Path, batches: list[list[Envelope]]) -> float:
    """Baseline: the same envelopes as JSON Lines, one write + fsync per batch."""
    start = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for batch in batches:
        os.write(fd, "".join(json.dumps(envelope_to_json(e)) + "\n" for e in batch).encode())
        os.fdatasync(fd)
    os.close(fd)
    return time.perf_counter() - start


def jsonl_replay(path: Path, correlation_id: str) -> list[dict]:
    """Baseline replay: scan the file, parse the lines that mention the run."""
    needle = f'"correlation_id": "{correlation_id}"'
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if needle in line]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def append_all(ledger: Ledger, batches: list[list[Envelope]], threads: int) -> float:
    start = time.perf_counter()
    if threads == 1:
        for b in batches:
            ledger.append(b)
    else:
        workers = [threading.Thread(target=lambda k: [ledger.append(b) for b in batches[k::threads]], args=(k,))
                   for k in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    return time.perf_counter() - start


TRIALS = 3  # these machines are shared and noisy: every rate is the median of three runs


def throughput(work: Path, n: int, texts: list[str], results: dict) -> None:
    gen = Runs(texts)
    batches = [gen.batch(BATCH) for _ in range(n // BATCH)]
    count = sum(map(len, batches))
    gc.freeze()  # the harness's million envelopes are not the ledger's garbage to walk
    # Salted (erasable, the default) against unsalted hashes: the trials alternate which goes
    # first, so that a drift of the machine (or of the allocator's pools) favours neither.
    rates: dict[str, list[float]] = collections.defaultdict(list)
    for trial in range(TRIALS):
        for threads, erasable in ((1, True), (1, False), (4, True))[::1 if trial % 2 else -1]:
            path = work / f"append-{threads}-{trial}"
            ledger = Ledger.open(path, options=LedgerOptions(erasable=erasable))
            rates[f"append_{threads}" + ("" if erasable else "_unsalted")].append(
                count / append_all(ledger, batches, threads))
            ledger.close()
            shutil.rmtree(path)
        for erasable in (False, True) if trial % 2 else (True, False):
            path = work / f"append-sustained-{erasable}"
            shutil.rmtree(path, ignore_errors=True)
            ledger = Ledger.open(path, options=LedgerOptions(erasable=erasable))
            start = time.perf_counter()
            append_all(ledger, batches, 1)
            ledger.seal()  # what a sustained writer must also do: everything into Parquet segments
            rates["sustained" + ("" if erasable else "_unsalted")].append(count / (time.perf_counter() - start))
            ledger.close()
    results.update((name, statistics.median(values)) for name, values in rates.items())
    shutil.rmtree(work / "append-sustained-False")
    path = work / "append-sustained-True"  # the default kind of ledger: the one read below
    with Ledger.open(path) as ledger:  # background compaction yields to ingest; here is its own rate
        segments = ledger._engine.segment_count
        start = time.perf_counter()
        report = ledger.compact()
        results["compaction_rows_s"] = report.rows_rewritten / (time.perf_counter() - start)
        results["compaction_from"], results["compaction_to"] = segments, report.segments_after
    jsonl = work / "baseline.jsonl"
    baseline = []
    for _ in range(TRIALS):
        jsonl.unlink(missing_ok=True)
        baseline.append(count / jsonl_write(jsonl, batches))
    results["jsonl_append"] = statistics.median(baseline)
    results["throughput_n"] = count

    # replay at the same scale, against scanning the JSON Lines baseline
    with Ledger.open(path) as ledger:
        ledger.compact()
        ids = random.Random(3).sample([r.correlation_id for r in ledger.runs()], 30)
        warm = []
        for cid in ids:
            list(ledger.replay(cid))
            start = time.perf_counter()
            list(ledger.replay(cid))
            warm.append(time.perf_counter() - start)
    scans = []
    for cid in ids[:5]:
        start = time.perf_counter()
        jsonl_replay(jsonl, cid)
        scans.append(time.perf_counter() - start)
    results["replay_small_warm_p50"] = statistics.median(warm)
    results["replay_small_jsonl_p50"] = statistics.median(scans)
    shutil.rmtree(path)
    jsonl.unlink()
    del batches
    gc.unfreeze()
    gc.collect()


def size(work: Path, n: int, text: Text, results: dict) -> None:
    gen = Runs(text, seed=5)  # fresh text for every payload: nothing repeats
    path, jsonl = work / "size", work / "size.jsonl"
    total_json = 0
    with Ledger.open(path) as ledger, open(jsonl, "w", encoding="utf-8") as f:
        for _ in range(n // BATCH):
            batch = gen.batch(BATCH)
            ledger.append(batch)
        ledger.compact()
        for run in ledger.runs():
            for env in ledger.replay(run.correlation_id):
                line = json.dumps(envelope_to_json(env)) + "\n"
                total_json += len(line.encode())
                f.write(line)
                results.setdefault("payload_bytes", []).append(len(env.payload_json.encode()))
    count = (n // BATCH) * BATCH
    results["bytes_per_envelope"] = dir_bytes(path, "segments", "index") / count
    results["jsonl_bytes_per_envelope"] = total_json / count
    results["payload_bytes"] = statistics.mean(results["payload_bytes"])
    shutil.rmtree(path)
    jsonl.unlink()


def build_scale(path: Path, n: int) -> dict:
    """Build the large ledger (run in its own process, so that its peak RSS is the writer's own)."""
    text = Text()
    gen = Runs([text(560) for _ in range(50_000)], seed=9)
    start = time.perf_counter()
    with Ledger.open(path) as ledger:
        for i in range(n // BATCH):
            ledger.append(gen.batch(BATCH))
            if i % 2000 == 0:
                print(f"  building: {i * BATCH:,} / {n:,} envelopes", file=sys.stderr, flush=True)
        ledger.compact()
        segments = ledger._engine.segment_count
    return {"scale_build_s": time.perf_counter() - start, "scale_n": (n // BATCH) * BATCH, "segments": segments,
            "writer_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def replay_at_scale(work: Path, n: int, results: dict) -> None:
    path = work / "scale"
    child = subprocess.run([sys.executable, __file__, "--build-only", str(path), str(n)], check=True,
                           stdout=subprocess.PIPE, text=True)
    results.update(json.loads(child.stdout))
    with Ledger.open(path) as ledger:
        runs = [r for r in ledger.runs() if r.envelopes >= RUN_LENGTH * 0.9]
        ids = random.Random(4).sample([r.correlation_id for r in runs], min(200, len(runs)))
        for cid in ids:  # first touch: open files, warm the page cache
            list(ledger.replay(cid))
        warm = []
        for cid in ids:
            start = time.perf_counter()
            got = list(ledger.replay(cid))
            warm.append(time.perf_counter() - start)
            assert len(got) >= RUN_LENGTH * 0.9
        results["replay_len"] = statistics.mean(len(list(ledger.replay(c))) for c in ids[:20])
    results["replay_warm_p50"], results["replay_warm_p99"] = statistics.median(warm), pct(warm, 0.99)
    cli = Path(sys.executable).with_name("chatsnapshot")
    fresh = []
    for cid in ids[:25]:
        start = time.perf_counter()
        subprocess.run([str(cli), "--ledger", str(path), "replay", cid, "--format", "jsonl"], check=True,
                       stdout=subprocess.DEVNULL)
        fresh.append(time.perf_counter() - start)
    results["replay_fresh_p50"], results["replay_fresh_p99"] = statistics.median(fresh), pct(fresh, 0.96)
    shutil.rmtree(path)


# -- report ----------------------------------------------------------------------------

def report(r: dict) -> str:
    ms = 1000
    rows = [
        ("durable append, 1 thread (acked)", f"{r['append_1']:,.0f} env/s", f"{r['jsonl_append']:,.0f} env/s",
         f"{r['append_1'] / r['jsonl_append']:.2f}x", "≥ 100,000 env/s"),
        ("  the same, hashes over payload bytes (erasable=False)", f"{r['append_1_unsalted']:,.0f} env/s", "",
         f"salted: {r['append_1'] / r['append_1_unsalted']:.2f}x", "salted ≥ 0.90x"),
        ("durable append, 4 threads (acked)", f"{r['append_4']:,.0f} env/s", "", "", ""),
        ("sustained: append + seal to Parquet", f"{r['sustained']:,.0f} env/s", f"{r['jsonl_append']:,.0f} env/s",
         f"{r['sustained'] / r['jsonl_append']:.2f}x", "≥ 100,000 env/s"),
        ("  the same, hashes over payload bytes (erasable=False)", f"{r['sustained_unsalted']:,.0f} env/s", "",
         f"salted: {r['sustained'] / r['sustained_unsalted']:.2f}x", "salted ≥ 0.90x"),
        (f"compaction ({r['compaction_from']} -> {r['compaction_to']} segments, zstd-6)",
         f"{r['compaction_rows_s']:,.0f} env/s", "", "", ""),
        (f"replay ~{RUN_LENGTH} of {r['throughput_n']:,}, warm p50", f"{r['replay_small_warm_p50'] * ms:.2f} ms",
         f"{r['replay_small_jsonl_p50'] * ms:,.0f} ms",
         f"{r['replay_small_jsonl_p50'] / r['replay_small_warm_p50']:,.0f}x faster", ""),
        (f"replay ~{r['replay_len']:.0f} of {r['scale_n']:,}, warm p50 / p99",
         f"{r['replay_warm_p50'] * ms:.2f} / {r['replay_warm_p99'] * ms:.2f} ms", "", "", "p50 ≤ 5 ms"),
        (f"replay ~{r['replay_len']:.0f} of {r['scale_n']:,}, fresh process p50 / p96",
         f"{r['replay_fresh_p50'] * ms:.0f} / {r['replay_fresh_p99'] * ms:.0f} ms", "", "", "p50 ≤ 300 ms"),
        (f"bytes per envelope (payload ~{r['payload_bytes']:.0f} B)", f"{r['bytes_per_envelope']:.0f} B",
         f"{r['jsonl_bytes_per_envelope']:.0f} B", f"{r['bytes_per_envelope'] / r['jsonl_bytes_per_envelope']:.2f}x",
         "≤ 250 B"),
    ]
    head = ("measure", "chatsnapshot", "baseline: JSON Lines", "ratio", "target")
    widths = [max(len(str(row[i])) for row in (head, *rows)) for i in range(len(head))]
    lines = [f"cores: {os.cpu_count()}   python: {sys.version.split()[0]}   rates: median of {TRIALS} runs   "
             f"build of {r['scale_n']:,} envelopes: {r['scale_build_s']:.0f} s, {r['segments']} segments, "
             f"writer peak RSS {r['writer_rss_mib']:.0f} MiB", ""]
    for row in (head, *rows):
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of every size")
    parser.add_argument("--dir", type=Path, help="work directory (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    parser.add_argument("--build-only", nargs=2, metavar=("DIR", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_only:
        print(json.dumps(build_scale(Path(args.build_only[0]), int(args.build_only[1]))))
        return 0
    scale = 10 if args.quick else 1
    # A fresh `chatsnapshot replay` should load bytecode, as an installed package does
    # (an editable install under PYTHONDONTWRITEBYTECODE would recompile every module).
    subprocess.run([sys.executable, "-m", "compileall", "-q", *(str(ROOT / d) for d in PACKAGES)], check=True)
    work = Path(tempfile.mkdtemp(prefix="chatsnapshot-bench-", dir=args.dir))
    results: dict = {}
    try:
        print("generating text ...", file=sys.stderr, flush=True)
        text = Text()
        pool = [text(560) for _ in range(50_000)]
        print("durable append ...", file=sys.stderr, flush=True)
        throughput(work, 1_000_000 // scale, pool, results)
        print("bytes on disk ...", file=sys.stderr, flush=True)
        size(work, 200_000 // scale, text, results)
        print("replay at scale ...", file=sys.stderr, flush=True)
        replay_at_scale(work, 10_000_000 // scale, results)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
