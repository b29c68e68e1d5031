"""AG2 0.x runs: which chat is a run, its correlation and flow, and the thread it runs in.

An outermost ``initiate_chat`` is a run (``run``, ``run_iter``, ``initiate_chats`` and
``run_group_chat`` all reach it); one inside a run is a nested chat of it. The state the
other AG2 0.x modules share lives here: the switch, each agent's current flow (an async
reply's LLM call runs in an executor thread, where the flow's context variable is not set)
and its last run (so that a continued chat continues the correlation).
"""

from __future__ import annotations

import contextlib
import contextvars
import weakref
from typing import Any

from opentelemetry import context as otel_context

from chatsnapshot.instrumentation.flows import Flow, Switch, current_flow, flow_scope
from chatsnapshot.instrumentation.record import current_correlation

__all__ = ["MISSING", "SWITCH", "a_initiate_chat", "agent_flows", "agent_runs", "flow_of", "initiate_chat", "name_of",
           "quiet", "stream_init"]

SWITCH = Switch("ag2-classic")
# agent -> (correlation, last fact) of its last run, so that a continued chat continues both
agent_runs: weakref.WeakKeyDictionary[Any, tuple[str, str | None]] = weakref.WeakKeyDictionary()
# agent -> the flow of the run it is in now: the LLM call of an async reply runs in an executor thread
agent_flows: weakref.WeakKeyDictionary[Any, Flow] = weakref.WeakKeyDictionary()
quiet: contextvars.ContextVar[bool] = contextvars.ContextVar("chatsnapshot_autogen_quiet", default=False)


def flow_of(agent: Any = None) -> Flow | None:
    if not SWITCH.on or quiet.get():
        return None
    flow = current_flow()
    if flow is None and agent is not None:
        flow = agent_flows.get(agent)
    return flow


def name_of(agent: Any) -> str | None:
    name = getattr(agent, "name", agent)
    return name if isinstance(name, str) and name else None


# -- runs -------------------------------------------------------------------------------------


@contextlib.contextmanager
def _run(sender: Any, recipient: Any, kwargs: dict[str, Any]) -> Any:
    """Around an initiate_chat: a run when outermost, else a nested chat of the current run."""
    flow = flow_of()
    if flow is not None or quiet.get() or not SWITCH.on:
        if flow is not None:
            flow.emit("execution.handoff", {"kind": "nested_chat", "from": name_of(sender), "to": name_of(recipient),
                                            "max_turns": kwargs.get("max_turns")}, agent=name_of(sender))
        yield None
        return
    caller = _caller_context() if current_flow() is None else None
    token = otel_context.attach(caller[0]) if caller is not None else None
    try:
        with _top_run(sender, recipient, kwargs, caller[1] if caller else None) as flow:
            yield flow
    finally:
        if token is not None:
            otel_context.detach(token)


@contextlib.contextmanager
def _top_run(sender: Any, recipient: Any, kwargs: dict[str, Any], caller_correlation: str | None) -> Any:
    explicit = current_correlation() or caller_correlation
    correlation, last = None, None
    previous = agent_runs.get(sender)
    if previous is not None and kwargs.get("clear_history") is False:
        correlation, last = previous
    if explicit is not None and explicit != correlation:
        correlation, last = explicit, None
    flow = Flow(SWITCH, correlation, last)
    agents = [a for a in (sender, recipient) if a is not None]
    for agent in (*agents, *(getattr(getattr(recipient, "groupchat", None), "agents", None) or ())):
        agent_flows[agent] = flow
    with flow_scope(flow), flow.span("autogen.run", agent=name_of(sender)):
        flow.emit("execution.run_started", {"initiator": name_of(sender), "recipient": name_of(recipient),
                                            "max_turns": kwargs.get("max_turns"),
                                            "clear_history": kwargs.get("clear_history", True)},
                  agent=name_of(sender))
        try:
            yield flow
        except BaseException as e:
            flow.emit("execution.run_failed", {"error": e}, agent=name_of(sender))
            raise
        else:
            flow.emit("execution.run_completed", {"initiator": name_of(sender), "recipient": name_of(recipient)},
                      agent=name_of(sender))
        finally:
            for agent in (*agents, *(getattr(getattr(recipient, "groupchat", None), "agents", None) or ())):
                agent_flows.pop(agent, None)
                agent_runs[agent] = (flow.correlation_id, flow.last)


def initiate_chat(original: Any, self: Any, recipient: Any, *args: Any, **kwargs: Any) -> Any:
    with _run(self, recipient, kwargs):
        return original(self, recipient, *args, **kwargs)


async def a_initiate_chat(original: Any, self: Any, recipient: Any, *args: Any, **kwargs: Any) -> Any:
    with _run(self, recipient, kwargs):
        return await original(self, recipient, *args, **kwargs)


def _caller_context() -> tuple[Any, str | None] | None:
    """In a run's worker thread: the OTel context and correlation of the thread that built the
    run's IOStream (``run``, ``run_iter``, ``run_group_chat``), else None."""
    from autogen.io.base import IOStream

    return getattr(IOStream.get_default(), "_chatsnapshot_context", None)


MISSING = object()


def stream_init(original: Any, self: Any, *args: Any, **kwargs: Any) -> None:
    from opentelemetry import context

    original(self, *args, **kwargs)
    with contextlib.suppress(Exception):
        self._chatsnapshot_context = (context.get_current(), current_correlation())
