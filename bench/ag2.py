"""What AG2 instrumentation costs: a scripted AG2 conversation with and without the instrumentor.

    .venv/bin/python bench/ag2.py [--conversations N]          # AG2 1.x, AG2Instrumentor
    .venv-ag2-0/bin/python bench/ag2.py [--conversations N]    # AG2 0.x, AutogenInstrumentor

The era is the one installed. Each conversation has a scripted model asking for two tool calls,
then answering: in 1.x one ``agent.ask``; in 0.x a user proxy's ``initiate_chat`` with an
assistant, the user proxy executing the tools (AG2's console output discarded). Both runs
happen in this process, in the same way; the instrumented one records into an embedded ledger
in a temporary directory (the batch span processor exports in its own thread, as in production).
Prints per-conversation medians of three rounds and the added microseconds per fact
(instrumented minus bare, divided by the facts recorded).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
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


def era() -> str:
    try:
        import ag2  # noqa: F401
    except ImportError:
        return "0.x"
    return "1.x"


class ScriptedClient:
    """AG2 0.x model client: two tool calls, then an answer."""

    def __init__(self, config: dict[str, object], **kwargs: object) -> None:
        self.turn = 0

    def create(self, params: dict[str, object]) -> object:
        from types import SimpleNamespace

        self.turn += 1
        if self.turn % 2:
            calls = [{"id": f"call_{city}", "type": "function",
                      "function": {"name": "get_weather", "arguments": f'{{"city": "{city}"}}'}}
                     for city in ("Paris", "Rome")]
            message = {"role": "assistant", "content": None, "tool_calls": calls}
        else:
            message = {"role": "assistant", "content": "Sunny in both. TERMINATE"}
        usage = SimpleNamespace(prompt_tokens=10, completion_tokens=5, total_tokens=15)
        return SimpleNamespace(model="scripted", choices=[SimpleNamespace(message=message)], usage=usage, cost=0.0)

    def message_retrieval(self, response: object) -> list[object]:
        message = response.choices[0].message  # type: ignore[attr-defined]
        return [message if message.get("tool_calls") else message["content"]]

    def cost(self, response: object) -> float:
        return 0.0

    @staticmethod
    def get_usage(response: object) -> dict[str, object]:
        return {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "cost": 0.0, "model": "scripted"}


def conversations_v0(n: int) -> float:
    from autogen import ConversableAgent, register_function

    llm = {"config_list": [{"model": "scripted", "model_client_cls": "ScriptedClient"}], "cache_seed": None}
    started = time.perf_counter()
    for _ in range(n):
        assistant = ConversableAgent("assistant", system_message="You are helpful.", llm_config=llm,
                                     human_input_mode="NEVER")
        user = ConversableAgent("user", llm_config=False, human_input_mode="NEVER", code_execution_config=False,
                                is_termination_msg=lambda m: "TERMINATE" in (m.get("content") or ""))
        register_function(get_weather, caller=assistant, executor=user, description="The weather.")
        assistant.register_model_client(ScriptedClient)
        with contextlib.redirect_stdout(io.StringIO()):
            user.initiate_chat(assistant, message="Weather?", max_turns=3, silent=True)
    return time.perf_counter() - started


async def conversations_v1(n: int) -> float:
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
    from chatsnapshot.instrumentation.configuration import _install

    if era() == "1.x":
        from chatsnapshot.instrumentation.ag2 import AG2Instrumentor as Instrumentor

        def conversations(count: int) -> float:
            return asyncio.run(conversations_v1(count))
    else:
        import logging

        from chatsnapshot.instrumentation.autogen import AutogenInstrumentor as Instrumentor

        logging.getLogger("autogen.oai.client").setLevel(logging.WARNING)  # "custom model client" notices
        conversations = conversations_v0

    conversations(20)  # warm up imports and caches
    bare, instrumented, facts = [], [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(3):
            bare.append(conversations(n))
            ledger = Path(tmp) / f"ledger-{round_}"
            pipeline = chatsnapshot.configure(ledger=ledger)
            instrumentor = Instrumentor()
            instrumentor.instrument()
            instrumented.append(conversations(n))
            instrumentor.uninstrument()
            pipeline.force_flush()
            _install(None)
            with chatsnapshot.Ledger.open(ledger, readonly=True) as opened:
                facts = sum(run.envelopes for run in opened.runs())
    per_bare = statistics.median(bare) / n * 1e6
    per_instr = statistics.median(instrumented) / n * 1e6
    per_conversation_facts = facts / n
    print(f"{'':<34}{'µs / conversation':>18}")
    print(f"{f'bare AG2 {era()} (scripted model)':<34}{per_bare:>18,.0f}")
    print(f"{f'with {Instrumentor.__name__}':<34}{per_instr:>18,.0f}   ({per_instr / per_bare:.2f}x)")
    print(f"\nfacts per conversation: {per_conversation_facts:.0f}; "
          f"added per fact: {(per_instr - per_bare) / per_conversation_facts:,.1f} µs")


if __name__ == "__main__":
    main()
