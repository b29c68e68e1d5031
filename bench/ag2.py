"""What AG2 instrumentation costs: a scripted AG2 1.x conversation with and without AG2Instrumentor.

    .venv/bin/python bench/ag2.py [--conversations N]

Each conversation is one ``agent.ask`` with a scripted model: two tool calls, then an answer
(16 facts). Both runs happen in this process, in the same way; the instrumented one records
into an embedded ledger in a temporary directory (the batch span processor exports in its own
thread, as in production). Prints per-conversation medians of three rounds and the added
microseconds per fact (instrumented minus bare, divided by the facts recorded).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

# this file is named ag2.py, as the issue asks: keep its folder from shadowing the ag2 package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


def get_weather(city: str) -> str:
    """The weather."""
    return "sunny"


async def conversations(n: int) -> float:
    from ag2 import Agent
    from ag2.events import ToolCallEvent
    from ag2.testing import TestConfig

    started = time.perf_counter()
    for _ in range(n):
        config = TestConfig(ToolCallEvent(name="get_weather", arguments='{"city": "Paris"}'),
                            ToolCallEvent(name="get_weather", arguments='{"city": "Rome"}'), "Sunny in both.")
        await Agent("assistant", "You are helpful.", config=config, tools=[get_weather]).ask("Weather?")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=300, help="conversations per round (default 300)")
    n = parser.parse_args().conversations

    import chatsnapshot
    from chatsnapshot.instrumentation.ag2 import AG2Instrumentor
    from chatsnapshot.instrumentation.configuration import _install

    asyncio.run(conversations(20))  # warm up imports and caches
    bare, instrumented, facts = [], [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(3):
            bare.append(asyncio.run(conversations(n)))
            ledger = Path(tmp) / f"ledger-{round_}"
            pipeline = chatsnapshot.configure(ledger=ledger)
            instrumentor = AG2Instrumentor()
            instrumentor.instrument()
            instrumented.append(asyncio.run(conversations(n)))
            instrumentor.uninstrument()
            pipeline.force_flush()
            _install(None)
            with chatsnapshot.Ledger.open(ledger, readonly=True) as opened:
                facts = sum(run.envelopes for run in opened.runs())
    per_bare = statistics.median(bare) / n * 1e6
    per_instr = statistics.median(instrumented) / n * 1e6
    per_conversation_facts = facts / n
    print(f"{'':<34}{'µs / conversation':>18}")
    print(f"{'bare AG2 1.x (scripted model)':<34}{per_bare:>18,.0f}")
    print(f"{'with AG2Instrumentor':<34}{per_instr:>18,.0f}   ({per_instr / per_bare:.2f}x)")
    print(f"\nfacts per conversation: {per_conversation_facts:.0f}; "
          f"added per fact: {(per_instr - per_bare) / per_conversation_facts:,.1f} µs")


if __name__ == "__main__":
    main()
