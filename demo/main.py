"""make demo: the main job end to end, on loopback, with nothing but this repository.

1. starts `chatsnapshot serve` (OTLP/gRPC on a free loopback port) with its ledger in ./demo-ledger;
2. runs a trip-planning workflow in this process around a real AG2 1.x
   conversation with a scripted model (a tool call and its result, a question
   to the human answered by the script, a delegation to a second agent):
   `AG2Instrumentor` records the agents' facts with no change to the agent code,
   `chatsnapshot.record()` the application's own (workflow, an integration call);
   all travel through the durable spool (./demo-spool) to the receiver;
3. waits until the receiver has acknowledged every fact, and stops it with
   SIGTERM (it finishes in-flight requests and seals);
4. prints, through the command line a user would type: the replayed run, its
   transcript, the runs, one SQL query and `chatsnapshot verify`, writes the run's
   page (./demo-run.html), and says where the ledger is.
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
FRESH = "--fresh" in sys.argv[1:]  # start the demo ledger over (else each demo adds a run to it)
_PLACES = [a for a in sys.argv[1:] if a != "--fresh"]
HERE = Path(_PLACES[0]).resolve() if _PLACES else ROOT  # where the demo writes (tests pass a temp dir)
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


def workflow(port: int) -> tuple[str, str]:
    """A trip-planning workflow around a real AG2 conversation (scripted model): its correlation
    id and the plan."""
    import asyncio

    from ag2 import Agent, Context
    from ag2.events import ModelResponse, ToolCallEvent, ToolCallsEvent, Usage
    from ag2.testing import TestConfig

    import chatsnapshot
    from chatsnapshot.instrumentation.ag2 import AG2Instrumentor

    pipeline = chatsnapshot.configure(endpoint=f"127.0.0.1:{port}", spool_dir=SPOOL, service_name="trip-planner")
    AG2Instrumentor().instrument()  # every AG2 agent now records its facts; no agent code changes

    def weather(city: str) -> str:
        """The forecast for a city (an integration the application records itself)."""
        chatsnapshot.record("integration.call", origin="integration", payload={"service": "weather-api",
                                                                              "endpoint": f"/forecast?city={city}"})
        time.sleep(0.02)
        chatsnapshot.record("integration.response", origin="integration", payload={"status": 200, "forecast": "sunny"})
        return "sunny, 24C"

    async def ask_traveller(question: str, ctx: Context) -> str:
        """Ask the traveller."""
        ctx.variables["pace"] = "relaxed"
        return await ctx.input(question)

    researcher = Agent("researcher", config=TestConfig("Day 1 Alfama, day 2 Belem, day 3 Sintra."))
    planner = Agent(
        "planner", "You plan trips.",
        config=TestConfig(  # the scripted model: a tool call, a question to the human, a delegation, an answer
            ModelResponse(tool_calls=ToolCallsEvent([ToolCallEvent(name="weather", arguments='{"city": "Lisbon"}')]),
                          usage=Usage(182, 41, 223), model="scripted"),
            ToolCallEvent(name="ask_traveller", arguments='{"question": "Relaxed or packed days?"}'),
            ToolCallEvent(name="task_researcher", arguments='{"objective": "Sights for 3 relaxed days"}'),
            "Lisbon, 3 relaxed days in the sun: Alfama, Belem, Sintra.",
        ),
        tools=[weather, ask_traveller, researcher.as_tool(description="Delegate sightseeing research")],
        hitl_hook=lambda request: "Relaxed, please.",  # the human, answered by the script
    )
    with chatsnapshot.correlation() as run_id:
        chatsnapshot.record("system.workflow_started",
                            payload={"workflow": "trip-planner", "input": "3 days in Lisbon"})
        reply = asyncio.run(planner.ask("Plan 3 days in Lisbon."))
        chatsnapshot.record("system.workflow_completed", payload={"workflow": "trip-planner", "plan": reply.body})
    if not pipeline.delivered(30_000):
        raise SystemExit("the receiver did not acknowledge every fact in 30 s")
    pipeline.shutdown()
    AG2Instrumentor().uninstrument()
    return run_id, reply.body or ""


def show(title: str, *args: str) -> None:
    print(f"\n$ {shlex.join(['chatsnapshot', '--ledger', 'demo-ledger', *args])}" + (f"   # {title}" if title else ""))
    done = subprocess.run([*CLI, *args], text=True, capture_output=True)
    sys.stdout.write(done.stdout)
    if done.returncode != 0:
        sys.stdout.write(done.stderr)
        raise SystemExit(f"demo step failed: chatsnapshot {' '.join(args)} (exit {done.returncode})")


def main() -> int:
    if FRESH:
        shutil.rmtree(LEDGER, ignore_errors=True)
    shutil.rmtree(SPOOL, ignore_errors=True)  # a spool left by an interrupted demo: its receiver is gone
    port = free_port()
    print("ChatSnapshot demo: an instrumented workflow -> OTLP -> chatsnapshot serve -> ledger\n")
    if LEDGER.exists():
        print(f"(adding a run to the existing {LEDGER.name}/, earlier demo runs stay; "
              "`make demo DEMO_ARGS=--fresh` starts it over)\n")
    receiver = start_receiver(port)
    try:
        run_id, plan = workflow(port)
        print(f"\nworkflow done: {plan!r}\nits facts are in correlation {run_id}, all acknowledged (durable)")
    finally:
        receiver.send_signal(signal.SIGTERM)
        out, err = receiver.communicate(timeout=60)
    shutil.rmtree(SPOOL, ignore_errors=True)  # every fact was acknowledged: the spool is empty, and goes
    print(f"$ kill -TERM <receiver>\n  {out.strip().splitlines()[-1] if out.strip() else err.strip()}")
    if receiver.returncode != 0:
        raise SystemExit(f"the receiver exited with {receiver.returncode}: {err}")
    show("the run, in order, with each fact's cause", "replay", run_id)
    show("the conversation, tool calls and human input inline", "transcript", run_id)
    show("every run: status, agents, tokens, cost, lineage", "runs")
    show("this run at a glance", "describe", run_id)
    show("SQL over the same data",
         "sql", "SELECT seq, event_type, source_agent AS agent, payload->>'name' AS tool, payload->>'kind' AS kind "
                "FROM envelopes WHERE event_type IN ('execution.tool_call', 'execution.tool_result', "
                "'execution.handoff', 'execution.human_input_received') ORDER BY seq")
    show("recompute every hash chain", "verify")
    page = HERE / "demo-run.html"
    show("timeline, causal DAG and every payload in one offline page", "view", run_id, "-o", str(page))
    print(f"  wrote {page.name}: open it in a browser")
    where = LEDGER.relative_to(Path.cwd()) if LEDGER.is_relative_to(Path.cwd()) else LEDGER
    print(f"\nThe ledger is in {where}/: plain Parquet under segments/, readable by DuckDB or pyarrow "
          "without ChatSnapshot.")
    cli = f".venv/bin/chatsnapshot --ledger {LEDGER.name}"
    print("Try next (or activate the environment: source .venv/bin/activate):")
    seq = 3  # an early point of the run to branch from
    for args, why in ((f"timeline {run_id}", "each fact's offset and lane, operations with durations"),
                      (f"dag {run_id} --format mermaid", "the causal DAG"),
                      (f"stats {run_id}", "tokens, cost, tools, human wait"),
                      (f"replay {run_id} --type tool_call --wide", "only the tool calls, whole payloads"),
                      (f"fork {run_id} --at {seq}", f"a new run with this one's history up to seq {seq}"),
                      (f"view {run_id} -o run.html", "the run as one offline page"),
                      ("ui", "the web UI: every run, live (http://127.0.0.1:8080/)"),
                      ("--help", "every command")):
        print(f"  {cli} {args:<48}  # {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
