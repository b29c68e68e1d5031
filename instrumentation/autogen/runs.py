"""AG2 0.x runs: which chat is a run, its correlation and flow, and the thread it runs in.

An outermost ``initiate_chat`` is a run (``run``, ``run_iter`` and ``run_group_chat`` all
reach it), and so is an outermost ``initiate_chats`` sequence; a chat inside a run is a nested
(or sequential) chat of it. The state the
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

__all__ = ["MISSING", "SWITCH", "a_initiate_chat", "a_initiate_chats", "agent_flows", "agent_runs", "flow_of",
           "initiate_chat", "initiate_chats", "name_of", "quiet", "stream_init"]

SWITCH = Switch("ag2-classic")
# agent -> (correlation, last fact) of its last run, so that a continued chat continues both
agent_runs: weakref.WeakKeyDictionary[Any, tuple[str, str | None]] = weakref.WeakKeyDictionary()
# agent -> the flow of the run it is in now: the LLM call of an async reply runs in an executor thread
agent_flows: weakref.WeakKeyDictionary[Any, Flow] = weakref.WeakKeyDictionary()
quiet: contextvars.ContextVar[bool] = contextvars.ContextVar("chatsnapshot_autogen_quiet", default=False)
# what a chat started inside a run is: one of a top-level initiate_chats sequence, or nested in a reply
_chat_kind: contextvars.ContextVar[str] = contextvars.ContextVar("chatsnapshot_autogen_chat_kind",
                                                                default="nested_chat")


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
    """Around an initiate_chat: a run when outermost, else a nested (or sequential) chat of the current run."""
    if quiet.get() or not SWITCH.on:
        yield None
        return
    flow = flow_of()
    if flow is not None:
        flow.emit("execution.handoff", {"kind": _chat_kind.get(), "from": name_of(sender), "to": name_of(recipient),
                                        "max_turns": kwargs.get("max_turns")}, agent=name_of(sender))
        inner = _chat_kind.set("nested_chat")  # chats started inside this one are nested in it
        try:
            yield None
        finally:
            _chat_kind.reset(inner)
        return
    caller = _caller_context()
    token = otel_context.attach(caller[0]) if caller is not None else None
    started = {"initiator": name_of(sender), "recipient": name_of(recipient), "max_turns": kwargs.get("max_turns"),
               "clear_history": kwargs.get("clear_history", True)}
    continued = kwargs.get("clear_history") is False
    try:
        with _top_run(sender, [sender, recipient], started, continued, caller[1] if caller else None) as flow:
            yield flow
    finally:
        if token is not None:
            otel_context.detach(token)


@contextlib.contextmanager
def _top_run(initiator: Any, agents: list[Any], started: dict[str, Any], continued: bool,
             caller_correlation: str | None = None) -> Any:
    """A run: its flow, span, run_started and run_completed / run_failed facts."""
    explicit = current_correlation() or caller_correlation
    correlation, last = None, None
    previous = agent_runs.get(initiator)
    if previous is not None and continued:
        correlation, last = previous
    if explicit is not None and explicit != correlation:
        correlation, last = explicit, None
    flow = Flow(SWITCH, correlation, last)
    members = [m for a in agents if a is not None
               for m in (a, *(getattr(getattr(a, "groupchat", None), "agents", None) or ()))]
    for agent in members:
        agent_flows[agent] = flow
    with flow_scope(flow), flow.span("autogen.run", agent=name_of(initiator)):
        flow.emit("execution.run_started", started, agent=name_of(initiator))
        try:
            yield flow
        except BaseException as e:
            flow.emit("execution.run_failed", {"error": e}, agent=name_of(initiator))
            raise
        else:
            flow.emit("execution.run_completed", {k: started[k] for k in ("initiator", "recipient")},
                      agent=name_of(initiator))
        finally:
            for agent in members:
                agent_flows.pop(agent, None)
                agent_runs[agent] = (flow.correlation_id, flow.last)


@contextlib.contextmanager
def _sequence(chat_queue: list[dict[str, Any]]) -> Any:
    """Around ``initiate_chats``: at top level one run whose chats are ``sequential_chat`` handoffs;
    inside a run (a nested-chat reply) its chats are nested chats of that run."""
    if flow_of() is not None or quiet.get() or not SWITCH.on or not chat_queue:
        yield
        return
    first = chat_queue[0]
    agents = [a for chat in chat_queue for a in (chat.get("sender"), chat.get("recipient"))]
    started = {"initiator": name_of(first.get("sender")), "recipient": name_of(first.get("recipient")),
               "chats": len(chat_queue), "clear_history": first.get("clear_history", True)}
    with _top_run(first.get("sender"), agents, started, first.get("clear_history") is False):
        kind = _chat_kind.set("sequential_chat")
        try:
            yield
        finally:
            _chat_kind.reset(kind)


def initiate_chat(original: Any, self: Any, recipient: Any, *args: Any, **kwargs: Any) -> Any:
    with _run(self, recipient, kwargs):
        return original(self, recipient, *args, **kwargs)


async def a_initiate_chat(original: Any, self: Any, recipient: Any, *args: Any, **kwargs: Any) -> Any:
    with _run(self, recipient, kwargs):
        return await original(self, recipient, *args, **kwargs)


def initiate_chats(original: Any, chat_queue: list[dict[str, Any]]) -> Any:
    with _sequence(chat_queue):
        return original(chat_queue)


async def a_initiate_chats(original: Any, chat_queue: list[dict[str, Any]]) -> Any:
    with _sequence(chat_queue):
        return await original(chat_queue)


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
