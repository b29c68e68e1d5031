"""A process that records one AG2 1.x run into an embedded ledger and keeps the ledger open (its writer
stays alive), for the read-your-writes test: prints ``DONE <correlation> <events>`` once the run's facts
are committed, then waits until its stdin closes.

    python -m tests.instrumentation.ag2_recorder LEDGER_DIR
"""

from __future__ import annotations

import asyncio
import sys

from ag2 import Agent
from ag2.events import ModelResponse, ToolCallEvent, ToolCallsEvent
from ag2.testing import TestConfig

import chatsnapshot
from chatsnapshot.instrumentation.ag2 import AG2Instrumentor, correlation_of
from tests.instrumentation.recorded import acknowledge_then_wait


def get_weather(city: str) -> str:
    """Return a fake weather report."""
    return "sunny, 21C"


async def run() -> tuple[str, int]:
    config = TestConfig(ModelResponse(tool_calls=ToolCallsEvent([ToolCallEvent(
        name="get_weather", arguments='{"city": "Paris"}', id="call-1")])), "Paris is sunny.")
    reply = await Agent("assistant", "You are helpful.", config=config, tools=[get_weather]).ask("Weather?")
    return correlation_of(reply) or "", len(await reply.history.get_events())


def main() -> None:
    chatsnapshot.configure(ledger=sys.argv[1])
    AG2Instrumentor().instrument()
    acknowledge_then_wait(*asyncio.run(run()))


if __name__ == "__main__":
    main()
