"""Web UI benchmark: the runs table of a large ledger, through a real ``chatsnapshot ui``.

    .venv/bin/python bench/ui.py            # 100,000 runs (~2 minutes)
    .venv/bin/python bench/ui.py --quick    # 10,000 runs

A ledger of N runs (3 facts each: started, a message, completed) is built; ``chatsnapshot ui``
starts on it (its start-up folds every envelope into the runs index) and is asked over HTTP
for pages of the runs table, median of 7 warm requests each. The baseline is the same
question asked of DuckDB directly (``LedgerReader.sql`` over the ``runs`` view, warm), in the
same run: the UI answers from memory what the baseline computes from Parquet.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scaleout import timed  # noqa: E402

from chatsnapshot.ledger import Envelope, Ledger, LedgerReader  # noqa: E402
from tests.helpers import free_port  # noqa: E402


def build(path: Path, runs: int) -> None:
    with Ledger.open(path) as ledger:
        batch: list[Envelope] = []
        for i in range(runs):
            run = f"run-{i:07d}"
            word = "zanzibar" if i == runs // 2 else "lisbon"
            started = Envelope.create("execution.run_started", correlation_id=run, agent=f"agent-{i % 7}",
                                      service=f"svc-{i % 3}", payload={"task": f"trip {i}"})
            said = Envelope.create("execution.message", correlation_id=run, causation_id=started.event_id,
                                   agent=f"agent-{i % 7}",
                                   payload={"role": "assistant", "content": f"Day {i} in {word}"})
            status = "failed" if i % 97 == 0 else "completed"
            done = Envelope.create(f"execution.run_{status}", correlation_id=run, causation_id=said.event_id,
                                   agent=f"agent-{i % 7}", payload={"status": "error" if status == "failed" else "ok"})
            batch += [started, said, done]
            if len(batch) >= 30_000:
                ledger.append(batch)
                batch = []
        ledger.append(batch)


def median_ms(work, rounds: int = 7) -> float:
    """The warm median, in milliseconds (``scaleout.timed``)."""
    return timed(work, rounds) * 1000


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 runs instead of 100,000")
    args = parser.parse_args()
    runs = 10_000 if args.quick else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Path(tmp) / "ledger"
        print(f"building a ledger of {runs:,} runs ...", file=sys.stderr)
        build(ledger, runs)
        port = free_port()
        started = time.monotonic()
        ui = subprocess.Popen([sys.executable, "-m", "chatsnapshot.cli.main", "--ledger", str(ledger), "ui",
                               "--listen", f"127.0.0.1:{port}"], stderr=subprocess.PIPE, text=True, cwd=ROOT)
        assert ui.stderr is not None
        for line in ui.stderr:
            if "open http://" in line:
                break
        ready_s = time.monotonic() - started
        time.sleep(0.3)
        base = f"http://127.0.0.1:{port}/api/runs?limit=50"

        def get(query: str):
            return lambda: urllib.request.urlopen(base + query, timeout=60).read()

        try:
            with LedgerReader.open(ledger) as reader:
                def duck(sql: str):
                    return lambda: reader.sql(sql)

                cases = [
                    ("first page, newest first", get(""),
                     duck("SELECT * FROM runs ORDER BY first_occurred_at DESC LIMIT 50")),
                    ("filter status=failed", get("&status=failed"),
                     duck("SELECT * FROM runs WHERE last_event_type = 'execution.run_failed' "
                          "ORDER BY first_occurred_at DESC LIMIT 50")),
                    ("sort by facts, page 100", get("&sort=facts&offset=5000"),
                     duck("SELECT * FROM runs ORDER BY envelopes DESC LIMIT 50 OFFSET 5000")),
                    ("search a payload word", get("&q=zanzibar"),
                     duck("SELECT DISTINCT correlation_id FROM envelopes WHERE contains(lower(payload::VARCHAR), "
                          "'zanzibar')")),
                ]
                rows = [(name, median_ms(ours), median_ms(theirs)) for name, ours, theirs in cases]
            memory = rss_mib(ui.pid)
        finally:
            ui.terminate()
            ui.wait(timeout=10)
    print(f"\n{runs:,} runs ({3 * runs:,} envelopes); ui ready in {ready_s:.1f} s (index folded at start), "
          f"RSS {memory:.0f} MiB; median of 7 warm requests\n")
    print(f"{'request':<28} {'chatsnapshot ui (HTTP)':>24} {'baseline: DuckDB runs view':>28} {'ratio':>8}")
    for name, ours, theirs in rows:
        print(f"{name:<28} {ours:>21.1f} ms {theirs:>25.1f} ms {theirs / ours:>7.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
