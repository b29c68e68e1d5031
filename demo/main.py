"""make demo: the ledger end to end, through the command line a user would type.

Builds a small workflow run (application facts and agent facts, each caused by
the one before), appends it to ./demo-ledger with `chatsnapshot append`, appends
it again to show that re-delivery stores nothing twice, then prints the replay,
the runs, one SQL query and `chatsnapshot verify`.

(When the receiver and exporter issues land, this drives a real instrumented
workflow through `chatsnapshot serve` instead of a generated file.)
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from chatsnapshot.ledger import uuid7

ROOT = Path(__file__).resolve().parents[1]
LEDGER = ROOT / "demo-ledger"
CLI = [sys.executable, "-m", "chatsnapshot.cli.main", "--ledger", str(LEDGER)]

STEPS = [
    ("system.workflow_started", "system", None, {"workflow": "trip-planner", "input": "3 days in Lisbon"}),
    ("system.task_scheduled", "system", None, {"task": "research", "assignee": "planner"}),
    ("execution.run_started", "agent", "planner", {"agents": ["planner", "researcher"]}),
    ("execution.llm_call", "agent", "planner", {"model": "scripted", "prompt_tokens": 182, "completion_tokens": 41}),
    ("execution.tool_call", "agent", "planner", {"tool": "weather", "arguments": {"city": "Lisbon"}}),
    ("integration.call", "integration", None, {"service": "weather-api", "endpoint": "/forecast?city=Lisbon"}),
    ("integration.response", "integration", None, {"status": 200, "forecast": "sunny, 24C"}),
    ("execution.tool_result", "agent", "planner", {"tool": "weather", "result": "sunny, 24C"}),
    ("execution.handoff", "agent", "planner", {"to": "researcher", "reason": "needs sights"}),
    ("execution.message", "agent", "researcher", {"content": "Day 1 Alfama, day 2 Belem, day 3 Sintra."}),
    ("execution.run_completed", "agent", "researcher", {"turns": 3}),
    ("system.task_completed", "system", None, {"task": "research", "outcome": "ok"}),
    ("system.workflow_completed", "system", None, {"workflow": "trip-planner", "duration_ms": 5120}),
]


def facts(correlation_id: str) -> list[dict]:
    out, previous = [], None
    for event_type, origin, agent, payload in STEPS:
        event_id = uuid7()
        source = {"origin": origin, "runtime": "ag2" if origin == "agent" else "custom", "service": "demo",
                  "agent": agent}
        out.append({"event_id": event_id, "event_type": event_type, "correlation_id": correlation_id,
                    "causation_id": previous, "source": source, "payload": payload})
        previous = event_id
        time.sleep(0.002)  # distinct occurred_at times, as a real run would have
    return out


def show(title: str, *args: str, stdin: str | None = None) -> None:
    print(f"\n$ {shlex.join(['chatsnapshot', *args])}" + ("   # " + title if title else ""))
    done = subprocess.run([*CLI, *args], input=stdin, text=True, capture_output=True)
    sys.stdout.write(done.stdout)
    if done.returncode != 0:
        sys.stdout.write(done.stderr)
        raise SystemExit(f"demo step failed: chatsnapshot {' '.join(args)} (exit {done.returncode})")


def main() -> int:
    shutil.rmtree(LEDGER, ignore_errors=True)
    run_id = f"trip-{uuid7()[-8:]}"
    lines = "".join(json.dumps(f) + "\n" for f in facts(run_id))
    print(f"ChatSnapshot demo: one workflow run, {len(STEPS)} facts, correlation {run_id}")
    show("store the run (durable when this returns)", "append", "-", stdin=lines)
    show("deliver it again: stored once", "append", "-", stdin=lines)
    show("the run, in order, with each fact's cause", "replay", run_id)
    show("", "runs")
    show("SQL over the same data",
         "sql", "SELECT event_type, source_agent AS agent, payload->>'tool' AS tool FROM envelopes "
                "WHERE event_type LIKE 'execution.tool%' ORDER BY seq")
    show("recompute every hash chain", "verify")
    print(f"\nThe ledger is in {LEDGER.relative_to(Path.cwd()) if LEDGER.is_relative_to(Path.cwd()) else LEDGER}/:"
          " plain Parquet under segments/, readable by DuckDB or pyarrow without ChatSnapshot.")
    print(f"Try: .venv/bin/chatsnapshot --ledger {LEDGER.name} replay {run_id} --format jsonl")
    return 0


if __name__ == "__main__":
    sys.exit(main())
