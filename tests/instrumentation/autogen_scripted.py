"""A scripted AG2 0.x world for the AutogenInstrumentor tests: the model (``ScriptedClient``),
its llm_config, the instrumentor fixture's body, and the agents most tests talk to.

Imported only where ``autogen`` (ag2 0.x) is installed.
"""

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from autogen import ConversableAgent, register_function
from autogen.oai.client import OpenAIWrapper

from chatsnapshot.instrumentation.autogen import AutogenInstrumentor
from chatsnapshot.instrumentation.configuration import _install, current_pipeline


class ScriptedClient:
    """The model: pops the next scripted reply (text, or {"tool_calls": [(name, arguments)]}) per call."""

    SCRIPT: list[Any] = []

    def __init__(self, config: dict[str, Any], **kwargs: Any) -> None:
        self.model = config.get("model", "scripted")

    def create(self, params: dict[str, Any]) -> Any:
        item = ScriptedClient.SCRIPT.pop(0)
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, str):
            message = {"role": "assistant", "content": item}
        else:
            message = {"role": "assistant", "content": None, "tool_calls": [
                {"id": f"call_{name}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
                for name, args in item["tool_calls"]]}
        choice = SimpleNamespace(message=message, finish_reason="stop")
        usage = SimpleNamespace(prompt_tokens=10, completion_tokens=5, total_tokens=15)
        return SimpleNamespace(id="resp", model=self.model, choices=[choice], usage=usage, cost=0.001)

    def message_retrieval(self, response: Any) -> list[Any]:
        return [c.message if c.message.get("tool_calls") else c.message["content"] for c in response.choices]

    def cost(self, response: Any) -> float:
        return 0.001

    @staticmethod
    def get_usage(response: Any) -> dict[str, Any]:
        return {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "cost": 0.001,
                "model": response.model}


LLM = {"config_list": [{"model": "scripted-model", "model_client_cls": "ScriptedClient"}], "cache_seed": None}


def instrumented(monkeypatch: pytest.MonkeyPatch) -> Iterator[AutogenInstrumentor]:
    """The AutogenInstrumentor, instrumented, with ScriptedClient registered on every model client."""
    # AG2 rebuilds an agent's client whenever tools or handoffs are registered: register ours on every build
    original = OpenAIWrapper.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if any(c.get("model_client_cls") == "ScriptedClient" for c in self._config_list):
            self.register_model_client(ScriptedClient)

    monkeypatch.setattr(OpenAIWrapper, "__init__", init)
    instrumentor = AutogenInstrumentor()
    instrumentor.instrument()
    yield instrumentor
    instrumentor.uninstrument()
    _install(None)


def flush() -> None:
    pipeline = current_pipeline()
    assert pipeline is not None and pipeline.force_flush()
    pipeline.shutdown()
    _install(None)


def get_weather(city: str) -> str:
    """Return a fake weather report."""
    if city not in ("Paris", "London"):
        raise ValueError(f"no such city: {city}")
    return {"Paris": "sunny, 21C", "London": "rain, 14C"}[city]


def pair() -> tuple[ConversableAgent, ConversableAgent]:
    assistant = ConversableAgent("assistant", system_message="You are helpful.", llm_config=LLM,
                                 human_input_mode="NEVER")
    user = ConversableAgent("user", llm_config=False, human_input_mode="TERMINATE", code_execution_config=False,
                            is_termination_msg=lambda m: "TERMINATE" in (m.get("content") or ""))
    register_function(get_weather, caller=assistant, executor=user, description="Get the weather for a city")
    return assistant, user
