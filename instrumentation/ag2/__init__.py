"""Automatic facts from AG2 1.x (module ``ag2``), and conversation restore.

``AG2Instrumentor().instrument()`` patches two places at class level, so agents
created before and after it are covered alike and no agent code changes:

- ``Agent._drive_scope`` gets one more middleware for every turn. It opens the
  operation spans (``ag2.run`` > ``ag2.turn`` > ``ag2.llm_call`` / ``ag2.tool`` /
  ``ag2.human_input``) and records the operation facts: ``run_started``,
  ``turn_started``, ``llm_call`` (request summary, response, usage, error),
  ``human_input_requested``, ``state_change`` (``context.variables``),
  ``turn_completed``, ``termination`` and ``run_completed`` / ``run_failed``.
- ``ConversationContext.send``, which every event on a stream goes through, in
  the order the stream stores it. Events the stream keeps in its history become
  facts that carry the event itself (``payload["ag2"]``, AG2's own serialisation)
  so ``restore`` can rebuild the history exactly: ``message`` (``ModelRequest``
  as role user, ``ModelResponse`` as role assistant), ``tool_call``,
  ``tool_result`` (``status`` ok or error), ``human_input_received``, ``usage``.
  Delegation (``TaskStarted`` / ``TaskCompleted`` / ``TaskFailed``) becomes
  ``handoff``; ``ObserverAlert`` and ``HaltEvent`` become ``alert``.

A run is an outermost turn: ``agent.ask(...)``, ``agent.run(...)``,
``reply.ask(...)``. A conversation (a stream) keeps one correlation across its
runs: a new UUIDv7, or the one of an enclosing ``chatsnapshot.correlation(id)``;
``correlation_of(stream)`` reads it. Agents delegated to (``Agent.as_tool``) run
on streams of their own inside the parent's run and record into its
correlation; their facts say which stream in ``payload["stream"]``.

Not in AG2 1.x, so never recorded here: speaker selection (no group chat in the
1.x core) — see ``chatsnapshot.instrumentation.autogen`` for AG2 0.x.
"""

from __future__ import annotations

import contextlib
import time
from collections import OrderedDict
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from chatsnapshot.instrumentation.ag2.events import agent_name, on_event, usage_fields
from chatsnapshot.instrumentation.flows import (
    MODEL_PARAMETERS,
    Flow,
    Switch,
    current_flow,
    elapsed_ms,
    flow_scope,
    forked_facts,
    model_inputs,
    recorded_facts,
    warn_once,
)
from chatsnapshot.instrumentation.payloads import jsonable, text
from chatsnapshot.instrumentation.record import current_correlation
from chatsnapshot.ledger.envelope import Envelope
from chatsnapshot.ledger.ledger import Ledger

__all__ = ["AG2Instrumentor", "correlation_of", "restore"]

_SWITCH = Switch("ag2")
_CONVERSATIONS_KEPT = 4096
# stream id -> (correlation id, last fact): a later run on the same stream continues both
_conversations: OrderedDict[str, tuple[str, str | None]] = OrderedDict()
_originals: dict[str, Any] = {}


class AG2Instrumentor(BaseInstrumentor):
    """Records AG2 1.x agents' facts; see the module docstring.

    ``instrument(tracer_provider=...)`` sends the operation spans to that provider
    (default: the pipeline ``chatsnapshot.configure()`` set up, else the global
    one); facts go wherever ``chatsnapshot.record()`` sends them.
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("ag2 >= 1.2, < 2",)

    def _instrument(self, **kwargs: Any) -> None:
        from ag2.agent import Agent
        from ag2.context import ConversationContext

        _SWITCH.tracer_provider = kwargs.get("tracer_provider")
        if not _originals:
            _originals["drive"] = Agent._drive_scope
            _originals["send"] = ConversationContext.send
            Agent._drive_scope = _drive_scope  # type: ignore[method-assign]
            ConversationContext.send = _send  # type: ignore[method-assign]
        _SWITCH.on = True

    def _uninstrument(self, **kwargs: Any) -> None:
        from ag2.agent import Agent
        from ag2.context import ConversationContext

        _SWITCH.on = False
        if _originals:
            Agent._drive_scope = _originals.pop("drive")  # type: ignore[method-assign]
            ConversationContext.send = _originals.pop("send")  # type: ignore[method-assign]


def correlation_of(stream: Any) -> str | None:
    """The correlation a conversation's facts carry: ``stream`` is an AG2 stream, or
    anything with ``.context.stream`` (an ``AgentReply``). None before its first run."""
    stream = getattr(getattr(stream, "context", None), "stream", stream)
    entry = _conversations.get(str(getattr(stream, "id", "")))
    return entry[0] if entry else None


async def restore(source: Ledger | str | Path | Iterable[Envelope] | None = None, correlation_id: str | None = None,
                  stream: Any = None, *, server: str | None = None, upto_seq: int | None = None) -> Any:
    """Rebuild a recorded conversation's stream from the ledger, ready to continue.

    ``source`` is a ledger, a ledger directory or replayed envelopes; or give
    ``server="HOST:PORT"``, a running receiver. What this process recorded is
    readable at once (``flows.recorded_facts``). ``upto_seq``: fork the run there
    (``ledger.fork``): the history is the run's up to that seq, and what the agents
    do next is recorded into the new run (``correlation_of(stream)`` names it). Returns
    ``stream`` (default: a new ``MemoryStream`` with the recorded stream's id) with
    its history replaced by the recorded one — the top-level conversation's
    events, not those of agents it delegated to. Nothing is re-recorded; the next
    ``agent.ask(..., stream=stream)`` records into the same correlation, its first
    fact caused by the last recorded one. For ``Agent.resume``, pass
    ``await stream.history.get_events()``. Raises ``LookupError`` when the ledger
    has no AG2 run under that id.
    """
    from ag2.events import ToolResultsEvent
    from ag2.events._serialization import deserialize_value
    from ag2.stream import MemoryStream

    if correlation_id is None:
        raise TypeError("restore() needs the run's correlation_id")
    facts = recorded_facts(source, correlation_id, server=server)
    started = next((f.payload for f in facts if f.event_type == "execution.run_started"
                    and f.source.runtime == _SWITCH.runtime and (upto_seq is None or (f.seq or 0) <= upto_seq)),
                   None)
    if started is None:
        raise LookupError(f"correlation {correlation_id!r} holds no AG2 1.x run (no execution.run_started "
                          "from runtime 'ag2')" + (f" up to seq {upto_seq}" if upto_seq is not None else ""))
    if upto_seq is not None:  # checked first: a fork is written only for a run that can be restored
        facts = forked_facts(facts, upto_seq)
        correlation_id = facts[0].correlation_id
    stream_id = started["stream"]
    history: list[Any] = []
    batch: list[str] = []  # tool call ids of the last ModelResponse still waiting for their results
    results: list[Any] = []
    for fact in facts:
        payload = fact.payload
        recorded = payload.get("ag2")
        if recorded is None or payload.get("stream") != stream_id:
            continue
        event = deserialize_value(recorded)
        history.append(event)
        tool_calls = getattr(getattr(event, "tool_calls", None), "calls", None)
        if fact.event_type == "execution.message" and tool_calls:
            history.append(event.tool_calls)  # the stream stores the batch right after the response
            batch, results = [c.id for c in tool_calls], []
        elif fact.event_type == "execution.tool_result" and batch:
            results.append(event)
            if len(results) == len(batch):
                history.append(ToolResultsEvent(results))
                batch, results = [], []
    if stream is None:
        import uuid

        stream = MemoryStream(id=uuid.UUID(stream_id))
    await stream.history.replace(history)
    _remember(str(stream.id), correlation_id, facts[-1].event_id)
    return stream


# -- the middleware: operation spans and facts ------------------------------------------------


def _drive_scope(self: Any, event: Any, *, additional_middleware: Iterable[Any] = (), **kwargs: Any) -> Any:
    return _originals["drive"](self, event, additional_middleware=(_middleware, *additional_middleware), **kwargs)


def _middleware(event: Any, context: Any) -> Any:
    from ag2.middleware import BaseMiddleware

    global _LedgerMiddleware
    if _LedgerMiddleware is None:
        _LedgerMiddleware = type("LedgerMiddleware", (_Hooks, BaseMiddleware), {})
    return _LedgerMiddleware(event, context)


_LedgerMiddleware: Any = None  # built on first use: ag2 is imported only once instrumented


class _Hooks:
    """The middleware's hooks (mixed into ag2's BaseMiddleware on first use). One instance per turn."""

    _variables: dict[str, Any] | None = None  # context.variables as last reported

    def _state_change(self, flow: Flow, context: Any, agent: str | None) -> None:
        """A ``state_change`` fact when ``context.variables`` changed since the last look."""
        before, after = self._variables, _variables(context)
        self._variables = after
        if before is None or after == before:
            return
        changed = {k: v for k, v in after.items() if before.get(k, _MISSING) != v}
        removed = sorted(k for k in before if k not in after)
        flow.emit("execution.state_change", {"scope": "context_variables", "changed": changed, "removed": removed,
                                             "stream": str(context.stream.id)}, agent=agent)

    async def on_turn(self, call_next: Any, event: Any, context: Any) -> Any:
        agent = agent_name(context)
        stream_id = str(context.stream.id)
        flow = current_flow()
        top = flow is None
        if flow is None:
            explicit = current_correlation()
            correlation, last = _conversations.get(stream_id, (None, None))
            if explicit is not None and explicit != correlation:  # chatsnapshot.correlation(id) wins
                correlation, last = explicit, None
            flow = Flow(_SWITCH, correlation, last)
        with flow_scope(flow), (flow.span("ag2.run", agent=agent) if top else contextlib.nullcontext()):
            if top:
                _remember(stream_id, flow.correlation_id, flow.last)
                flow.emit("execution.run_started", {"agent": agent, "stream": stream_id}, agent=agent)
            try:
                with flow.span(f"ag2.turn {agent}", agent=agent):
                    flow.emit("execution.turn_started", {"agent": agent, "stream": stream_id,
                                                         "trigger": type(event).__name__}, agent=agent)
                    self._variables = _variables(context)
                    try:
                        response = await call_next(event, context)
                    except BaseException as e:
                        self._state_change(flow, context, agent)
                        flow.emit("execution.turn_completed", {"status": "error", "error": e, "stream": stream_id},
                                  agent=agent)
                        raise
                    self._state_change(flow, context, agent)
                    flow.emit("execution.turn_completed", {"status": "ok", "content": text(response.content),
                                                           "stream": stream_id}, agent=agent)
            except BaseException as e:
                if top:
                    flow.emit("execution.termination", {"reason": _failure_reason(e), "error": e}, agent=agent)
                    flow.emit("execution.run_failed", {"error": e, "stream": stream_id}, agent=agent)
                raise
            finally:
                if top:
                    _remember(stream_id, flow.correlation_id, flow.last)
            if top:
                flow.emit("execution.termination", {"reason": "final_response"}, agent=agent)
                flow.emit("execution.run_completed", {"stream": stream_id, "content": text(response.content)},
                          agent=agent)
                _remember(stream_id, flow.correlation_id, flow.last)
        return response

    async def on_llm_call(self, call_next: Any, events: Any, context: Any) -> Any:
        flow = current_flow()
        if flow is None:
            return await call_next(events, context)
        agent = agent_name(context)
        request = {"events": len(events), "last": type(events[-1]).__name__ if events else None}
        prompt = [t for p in getattr(context, "prompt", None) or [] if (t := text(p)) is not None]
        inputs = model_inputs(flow, agent, prompt, *_offered(call_next))
        with flow.span("ag2.llm_call", agent=agent):
            started = time.perf_counter()
            try:
                response = await call_next(events, context)
            except BaseException as e:
                flow.emit("execution.llm_call", {"status": "error", "request": request, "error": e,
                                                 "duration_ms": elapsed_ms(started), "inputs": inputs}, agent=agent)
                raise
            calls = [{"id": c.id, "name": c.name, "arguments": text(c.arguments)} for c in response.tool_calls.calls]
            fact = flow.emit("execution.llm_call", {
                "status": "ok", "request": request, "duration_ms": elapsed_ms(started), "inputs": inputs,
                "response": {"content": text(response.content), "tool_calls": calls,
                             "finish_reason": response.finish_reason},
                "model": response.model, "provider": response.provider, "usage": usage_fields(response.usage),
            }, agent=agent)
            if fact is not None:
                flow.anchors["llm"] = fact
        return response

    async def on_tool_execution(self, call_next: Any, event: Any, context: Any) -> Any:
        flow = current_flow()
        if flow is None:
            return await call_next(event, context)
        agent = agent_name(context)
        with flow.span(f"ag2.tool {event.name}", agent=agent, tool=event.name):
            try:
                return await call_next(event, context)
            finally:
                self._state_change(flow, context, agent)

    async def on_human_input(self, call_next: Any, event: Any, context: Any) -> Any:
        flow = current_flow()
        if flow is None:
            return await call_next(event, context)
        agent = agent_name(context)
        with flow.span("ag2.human_input", agent=agent):
            fact = flow.emit("execution.human_input_requested", {"prompt": text(event.content), "request_id": event.id,
                                                                 "timeout": event.timeout}, agent=agent)
            if fact is not None:
                flow.anchors[event.id] = fact
            return await call_next(event, context)


# -- the stream tap: history events, handoffs, alerts -------------------------------------------


async def _send(self: Any, event: Any) -> None:
    flow = current_flow()
    if flow is not None and _SWITCH.on:
        try:
            on_event(flow, event, self)
        except Exception as e:  # a bug here must never break the conversation
            warn_once(f"ag2:{type(event).__name__}", "could not record an AG2 %s (%s: %s); the conversation goes on",
                      type(event).__name__, type(e).__name__, e)
    await _originals["send"](self, event)


# -- helpers ----------------------------------------------------------------------------------


def _remember(stream_id: str, correlation_id: str, last: str | None) -> None:
    _conversations[stream_id] = (correlation_id, last)
    _conversations.move_to_end(stream_id)
    while len(_conversations) > _CONVERSATIONS_KEPT:
        _conversations.popitem(last=False)


def _variables(context: Any) -> dict[str, Any]:
    variables = getattr(context, "variables", None) or {}
    return {str(k): jsonable(v, max_chars=2_000) for k, v in variables.items() if not str(k).startswith("__")}


_MISSING = object()


def _failure_reason(error: BaseException) -> str:
    import asyncio

    if isinstance(error, asyncio.CancelledError | KeyboardInterrupt):
        return "cancelled"
    if type(error).__name__ in ("HaltError", "HaltedError", "Halted"):
        return "halted"
    return "error"


def _offered(call_next: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The tools and model parameters of the LLM call ``call_next`` leads to: AG2 binds them into
    the innermost callable (``partial(client, tools=..., ...)``) under any middlewares."""
    import functools

    inner: Any = call_next
    for _ in range(64):  # middlewares wrap it one partial each
        if not isinstance(inner, functools.partial):
            break
        if "tools" in inner.keywords:
            client, schemas = inner.func, inner.keywords.get("tools") or []
            tools = []
            for schema in schemas:
                function = getattr(schema, "function", None)
                name = getattr(function, "name", None) or getattr(schema, "name", None)
                if name:
                    tools.append({"name": name, "description": getattr(function, "description", None),
                                  "parameters": getattr(function, "parameters", None)})
            config = getattr(client, "config", None)
            parameters = {k: v for k in MODEL_PARAMETERS
                          if (v := getattr(client, k, None) if getattr(client, k, None) is not None
                              else getattr(config, k, None)) is not None}
            return tools, parameters
        inner = inner.args[0] if inner.args else inner.func
    return [], {}
