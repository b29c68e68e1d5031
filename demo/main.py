"""make demo: the main job end to end, on loopback, with nothing but this repository.

1. starts `chatsnapshot serve` (OTLP/gRPC on a free loopback port) with its ledger in ./demo-ledger;
2. runs an instrumented trip-planning workflow in this process: OpenTelemetry
   spans for its operations, and facts recorded with `chatsnapshot.record()`,
   sent through the durable spool (./demo-spool) to the receiver: application
   facts (workflow, tasks, an integration call) and agent facts (LLM call, tool
   call and result, handoff, messages);
3. waits until the receiver has acknowledged every fact, and stops it with
   SIGTERM (it finishes in-flight requests and seals);
4. prints, through the command line a user would type: the replayed run, the
   runs, one SQL query and `chatsnapshot verify`, and says where the ledger is.

(When the AG2 instrumentation lands, its instrumentor drives the agent part.)
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT  # where the demo writes (tests pass a temp dir)
LEDGER = HERE / "demo-ledger"
SPOOL = HERE / "demo-spool"
CLI = [sys.executable, "-m", "chatsnapshot.cli.main", "--ledger", str(LEDGER)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_receiver(port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([*CLI, "serve", "--grpc", f"127.0.0.1:{port}", "--http", "off"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "receiving OTLP" not in line:
        raise SystemExit(f"the receiver did not start: {line}{proc.stderr.read() if proc.stderr else ''}")
    print(f"$ chatsnapshot --ledger demo-ledger serve --grpc 127.0.0.1:{port} --http off &")
    print(f"  {line.strip()}")
    return proc


def workflow(port: int) -> tuple[str, int]:
    """A small agent workflow, instrumented: its correlation id and how many facts it recorded."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    import chatsnapshot

    pipeline = chatsnapshot.configure(endpoint=f"127.0.0.1:{port}", spool_dir=SPOOL, service_name="trip-planner")
    tracer = TracerProvider(resource=Resource.create({"service.name": "trip-planner"})).get_tracer("demo")
    recorded: list[str] = []

    def record(event_type: str, **kwargs: object) -> str:
        recorded.append(chatsnapshot.record(event_type, **kwargs))  # type: ignore[arg-type]
        return recorded[-1]

    with chatsnapshot.correlation() as run_id, tracer.start_as_current_span("workflow trip-planner"):
        record("system.workflow_started", payload={"workflow": "trip-planner", "input": "3 days in Lisbon"})
        record("system.task_scheduled", payload={"task": "research", "assignee": "planner"})
        with tracer.start_as_current_span("invoke_agent planner"):
            record("execution.run_started", origin="agent", agent="planner",
                   payload={"agents": ["planner", "researcher"]})
            record("execution.llm_call", origin="agent", agent="planner",
                   payload={"model": "scripted", "prompt_tokens": 182, "completion_tokens": 41})
            call = record("execution.tool_call", origin="agent", agent="planner",
                          payload={"tool": "weather", "arguments": {"city": "Lisbon"}})
            with tracer.start_as_current_span("execute_tool weather"):
                record("integration.call", origin="integration",
                       payload={"service": "weather-api", "endpoint": "/forecast?city=Lisbon"})
                time.sleep(0.02)
                record("integration.response", origin="integration", payload={"status": 200, "forecast": "sunny"})
            record("execution.tool_result", origin="agent", agent="planner", causation_id=call,
                   payload={"tool": "weather", "result": "sunny, 24C"})
            record("execution.handoff", origin="agent", agent="planner",
                   payload={"to": "researcher", "reason": "needs sights"})
        with tracer.start_as_current_span("invoke_agent researcher"):
            record("execution.message", origin="agent", agent="researcher",
                   payload={"content": "Day 1 Alfama, day 2 Belem, day 3 Sintra."})
            record("execution.run_completed", origin="agent", agent="researcher", payload={"turns": 3})
        record("system.task_completed", payload={"task": "research", "outcome": "ok"})
        record("system.workflow_completed", payload={"workflow": "trip-planner"})
    if not pipeline.delivered(30_000):
        raise SystemExit("the receiver did not acknowledge every fact in 30 s")
    pipeline.shutdown()
    return run_id, len(recorded)


def show(title: str, *args: str) -> None:
    print(f"\n$ {shlex.join(['chatsnapshot', '--ledger', 'demo-ledger', *args])}" + (f"   # {title}" if title else ""))
    done = subprocess.run([*CLI, *args], text=True, capture_output=True)
    sys.stdout.write(done.stdout)
    if done.returncode != 0:
        sys.stdout.write(done.stderr)
        raise SystemExit(f"demo step failed: chatsnapshot {' '.join(args)} (exit {done.returncode})")


def main() -> int:
    shutil.rmtree(LEDGER, ignore_errors=True)
    shutil.rmtree(SPOOL, ignore_errors=True)
    port = free_port()
    print("ChatSnapshot demo: an instrumented workflow -> OTLP -> chatsnapshot serve -> ledger\n")
    receiver = start_receiver(port)
    try:
        run_id, n = workflow(port)
        print(f"\nworkflow done: {n} facts recorded in correlation {run_id}, all acknowledged (durable)")
    finally:
        receiver.send_signal(signal.SIGTERM)
        out, err = receiver.communicate(timeout=60)
    print(f"$ kill -TERM <receiver>\n  {out.strip().splitlines()[-1] if out.strip() else err.strip()}")
    if receiver.returncode != 0:
        raise SystemExit(f"the receiver exited with {receiver.returncode}: {err}")
    show("the run, in order, with each fact's cause", "replay", run_id)
    show("", "runs")
    show("SQL over the same data",
         "sql", "SELECT seq, event_type, source_agent AS agent, payload->>'tool' AS tool FROM envelopes "
                "WHERE event_type LIKE 'execution.tool%' ORDER BY seq")
    show("recompute every hash chain", "verify")
    where = LEDGER.relative_to(Path.cwd()) if LEDGER.is_relative_to(Path.cwd()) else LEDGER
    print(f"\nThe ledger is in {where}/: plain Parquet under segments/, readable by DuckDB or pyarrow "
          "without ChatSnapshot.")
    print(f"Try: .venv/bin/chatsnapshot --ledger {LEDGER.name} replay {run_id} --format jsonl")
    return 0


if __name__ == "__main__":
    sys.exit(main())
