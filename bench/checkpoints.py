"""Checkpoint benchmark: what the Merkle tree and signed checkpoints cost.

    .venv/bin/python bench/checkpoints.py                       # 100k and 1M envelopes
    .venv/bin/python bench/checkpoints.py --sizes 1000000,10000000
    .venv/bin/python bench/checkpoints.py --quick               # 10k and 100k, a smoke run

For each size it builds a ledger (durable appends of 512, sealing as the receiver
does), then measures, in the same run: what extending the tree costs per envelope
(the only work checkpoints add to the write path, done by the sealer) against the
durable append it rides on; a signed checkpoint of the whole ledger; the one-off
tree for a ledger written before checkpoints (read every hash back); ``verify
--checkpoint`` (every leaf recomputed from content); and an inclusion proof, made
and checked offline. Payloads are ~680 bytes, as in bench/ledger.py.

Prints one table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent)]  # bench/ledger.py's payload generator

from chatsnapshot.ledger import Ledger, LedgerOptions  # noqa: E402
from chatsnapshot.ledger._engine.checkpoints import sealed_frontier  # noqa: E402
from chatsnapshot.ledger.checkpoint import generate_key, verify_note, verify_proof  # noqa: E402
from chatsnapshot.ledger.merkle import Frontier  # noqa: E402
from ledger import BATCH, Runs, Text  # noqa: E402  (bench/ledger.py, not chatsnapshot.ledger)


def measure(n: int, texts: list[str], work: Path) -> dict[str, float]:
    gen = Runs(texts, seed=5)
    batches = [gen.batch(BATCH) for _ in range(max(1, n // BATCH))]
    n = len(batches) * BATCH
    key = generate_key("bench")
    out: dict[str, float] = {"n": n}
    path = work / f"ledger-{n}"
    start = time.perf_counter()
    with Ledger.open(path, options=LedgerOptions(signing_key=key, auto_compact=False)) as ledger:
        for batch in batches:
            ledger.append(batch)
        ledger.seal()
        out["append_s"] = time.perf_counter() - start
        hashes = [bytes.fromhex(e.hash) for e in ledger.since(0, limit=min(n, 200_000))]
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            Frontier().extend(hashes)
            runs.append((time.perf_counter() - t) / len(hashes))
        out["extend_us"] = statistics.median(runs) * 1e6
        t = time.perf_counter()
        note = ledger.checkpoint(key)
        out["checkpoint_ms"] = (time.perf_counter() - t) * 1e3
        some = ledger.since(n // 2, limit=1)[0]
    with Ledger.open(path, readonly=True) as reader:
        t = time.perf_counter()
        sealed_frontier(reader._engine.snapshot())
        out["migrate_s"] = time.perf_counter() - t
        t = time.perf_counter()
        report = reader.verify_checkpoint(note, key.verifier)
        out["verify_checkpoint_s"] = time.perf_counter() - t
        assert report.ok, report
        t = time.perf_counter()
        proof = reader.prove(some.event_id, note)
        out["prove_s"] = time.perf_counter() - t
    t = time.perf_counter()
    verify_proof(proof, note, key.verifier)
    out["verify_proof_ms"] = (time.perf_counter() - t) * 1e3
    assert verify_note(note, key.verifier).size == n
    return out


def report(rows: list[dict[str, float]]) -> str:
    lines = ["measure" + "".join(f"{int(r['n']):>16,}" for r in rows)]

    def line(label: str, cell: Callable[[dict[str, float]], str]) -> None:
        lines.append(f"{label:<44}" + "".join(f"{cell(r):>16}" for r in rows))

    line("durable append + seal, env/s (baseline)", lambda r: f"{r['n'] / r['append_s']:,.0f}")
    line("tree extension at seal, per envelope", lambda r: f"{r['extend_us']:.2f} µs")
    line("  share of the append + seal time", lambda r: f"{r['extend_us'] * r['n'] / 1e6 / r['append_s']:.1%}")
    line("signed checkpoint of the whole ledger", lambda r: f"{r['checkpoint_ms']:.2f} ms")
    line("tree of a pre-checkpoint ledger (once)", lambda r: f"{r['migrate_s']:.2f} s")
    line("verify --checkpoint (every leaf recomputed)", lambda r: f"{r['verify_checkpoint_s']:.2f} s")
    line("prove one envelope", lambda r: f"{r['prove_s']:.2f} s")
    line("verify-proof, offline", lambda r: f"{r['verify_proof_ms']:.2f} ms")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated ledger sizes (envelopes)")
    parser.add_argument("--quick", action="store_true", help="10k and 100k envelopes")
    args = parser.parse_args()
    sizes = [10_000, 100_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    print("generating text ...", file=sys.stderr, flush=True)
    text = Text()
    texts = [text(560) for _ in range(20_000)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="chatsnapshot-bench-") as work:
        for n in sizes:
            print(f"{n:,} envelopes ...", file=sys.stderr, flush=True)
            rows.append(measure(n, texts, Path(work)))
    print(report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
