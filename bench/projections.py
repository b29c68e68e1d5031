"""Projections: what the incremental engine saves, and what one run's projections cost.

    .venv/bin/python bench/projections.py [--envelopes N] [--runs R]

1. Every run's metrics (``chatsnapshot stats``) over a ledger of N envelopes in R runs:
   a full rebuild (the engine from position 0), the baseline of replaying each run and
   folding it (``metrics(ledger.replay(run))``), and an incremental update after 1,000
   more envelopes are appended (the engine from its checkpoint).
2. Each projection of one run of 1,000 facts, from the replay already in memory.

Medians of three; one ledger on local disk in a temporary directory.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chatsnapshot.ledger import Envelope, Ledger
from chatsnapshot.ledger.projections import (
    ProjectionEngine,
    RunMetricsProjection,
    causal_dag,
    context,
    metrics,
    render_timeline,
    render_transcript,
    timeline,
    transcript,
)
from chatsnapshot.ui.export import export_page

KINDS = [("execution.message", {"role": "assistant", "content": "Sunny in Lisbon, 24C. " * 4}),
         ("execution.tool_call", {"name": "weather", "arguments": '{"city": "Lisbon"}', "call_id": "c"}),
         ("execution.tool_result", {"name": "weather", "status": "ok", "result": "sunny", "call_id": "c"}),
         ("execution.llm_call", {"status": "ok", "duration_ms": 812.5, "model": "m"}),
         ("execution.usage", {"prompt_tokens": 900, "completion_tokens": 120, "total_tokens": 1020, "cost": 0.002})]


def facts(n: int, runs: int, prefix: str = "run") -> list[Envelope]:
    out, last = [], {}
    for i in range(n):
        run = f"{prefix}-{i % runs:05d}"
        event_type, payload = KINDS[(i // runs) % len(KINDS)]
        e = Envelope.create(event_type, correlation_id=run, payload=payload, origin="agent", agent="planner",
                            causation_id=last.get(run))
        last[run] = e.event_id
        out.append(e)
    return out


def timed(work: Callable[[], Any], rounds: int = 3) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envelopes", type=int, default=200_000, help="ledger size (default 200,000)")
    parser.add_argument("--runs", type=int, default=2_000, help="runs they are spread over (default 2,000)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger"
        with Ledger.open(path) as ledger:
            batch = facts(args.envelopes, args.runs)
            for start in range(0, len(batch), 10_000):
                ledger.append(batch[start:start + 10_000])
            ledger.seal()

        with Ledger.open(path, readonly=True) as ledger:
            def rebuild() -> dict[str, Any]:
                engine = ProjectionEngine(ledger, RunMetricsProjection(), directory=Path(tmp) / "rebuild")
                for stale in (Path(tmp) / "rebuild").glob("*.json"):
                    stale.unlink()
                return engine.update()

            def replay_each() -> dict[str, Any]:
                return {r.correlation_id: metrics(ledger.replay(r.correlation_id)) for r in ledger.runs()}

            full, state = timed(rebuild)
            baseline, folded = timed(replay_each, rounds=1)
            assert {c: m.to_state() for c, m in state.items()} == {c: m.to_state() for c, m in folded.items()}

        def incremental() -> float:
            with Ledger.open(path) as writer:
                writer.append(facts(1_000, 10, prefix=f"late-{time.perf_counter_ns()}"))
                writer.seal()
            with Ledger.open(path, readonly=True) as reader:
                started = time.perf_counter()
                ProjectionEngine(reader, RunMetricsProjection(), directory=Path(tmp) / "rebuild").update()
                return time.perf_counter() - started

        increments = statistics.median(incremental() for _ in range(3))

        one = facts(1_000, 1, prefix="single")
        with Ledger.open(Path(tmp) / "one") as ledger:
            ledger.append(one)
            run = list(ledger.replay("single-00000"))
        per_run = {
            "transcript (text)": lambda: render_transcript(transcript(run)),
            "timeline (text)": lambda: render_timeline(timeline(run)),
            "causal DAG (JSON)": lambda: causal_dag(run).to_json(),
            "context (8,000 chars)": lambda: context(run, 8_000),
            "metrics": lambda: metrics(run).summary(),
            "run page (HTML, chatsnapshot view)": lambda: export_page(run),
        }
        one_run = {name: timed(work)[0] for name, work in per_run.items()}

    n = args.envelopes
    print(f"every run's metrics over {n:,} envelopes in {args.runs:,} runs")
    print(f"{'':<44}{'seconds':>10}{'envelopes/s':>14}{'vs baseline':>13}")
    print(f"{'replay each run and fold it (baseline)':<44}{baseline:>10.3f}{n / baseline:>14,.0f}{1:>12.2f}x")
    print(f"{'engine, full rebuild from position 0':<44}{full:>10.3f}{n / full:>14,.0f}{baseline / full:>12.2f}x")
    print(f"{'engine, update after 1,000 new envelopes':<44}{increments:>10.3f}{1000 / increments:>14,.0f}"
          f"{baseline / increments:>12.0f}x")
    print("\none run of 1,000 facts, from its replay in memory")
    print(f"{'':<44}{'ms':>10}")
    for name, seconds in one_run.items():
        print(f"{name:<44}{seconds * 1e3:>10.1f}")


if __name__ == "__main__":
    main()
