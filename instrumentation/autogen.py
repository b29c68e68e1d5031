"""Automatic facts from AG2 0.x (module ``autogen``, ``ConversableAgent``), and conversation restore.

``AutogenInstrumentor().instrument()`` wraps methods on the classes, so agents
created before and after it are covered alike (an agent that
``autogen.opentelemetry.instrument_agent`` wrapped *before* this instrumentor was
instrumented keeps instance attributes that bypass the class: instrument
ChatSnapshot first). What each wrapper records:

======================================  ==========================================
``ConversableAgent.initiate_chat``      outermost: ``run_started``, ``run_completed``
(and ``a_``)                            / ``run_failed``; inside a run (nested and
                                        sequential chats): ``handoff`` kind
                                        ``nested_chat``
``ConversableAgent.send`` (and ``a_``)  ``message`` — every send, ``silent`` ones too
``ConversableAgent.generate_reply``     ``turn_started`` / ``turn_completed``;
(and ``a_``)                            ``state_change`` when the agent's context
                                        variables changed during the turn
``OpenAIWrapper.create``                ``llm_call`` (request summary, response,
                                        usage, cost, error), ``usage``
``ConversableAgent.execute_function``   ``tool_call``, ``tool_result`` (ok / error)
(and ``a_``)
``ConversableAgent.get_human_input``    ``human_input_requested``,
(and ``a_``)                            ``human_input_received``
``GroupChat.select_speaker`` (and      ``speaker_selected`` with the method (auto,
``a_``)                                 round_robin, random, manual, a callable's name)
the IOStream's events                   ``termination`` (``TerminationEvent`` and its
                                        reason), ``handoff`` (``ReplyResult``,
                                        ``OnCondition``, ``OnContextCondition``,
                                        ``AfterWork`` transitions), ``alert``
                                        (safeguard events)
======================================  ==========================================

A run is an outermost ``initiate_chat``: ``run``, ``run_iter``, ``initiate_chats``
and ``run_group_chat`` all reach it. Its correlation is the enclosing
``chatsnapshot.correlation(id)``, else the one of the initiating agent's previous
run when the chat continues it (``clear_history=False``, as after ``restore``),
else a new UUIDv7; ``correlation_of(agent)`` reads it. ``run``/``run_iter``/
``run_group_chat`` run the chat in a thread: the caller's OTel context and
correlation are carried into it (captured when AG2 builds the run's IOStream).
The LLM speaker selection's internal chat is not recorded as a chat of its own;
its choice is the ``speaker_selected`` fact.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import time
import weakref
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from chatsnapshot.instrumentation.flows import Flow, Switch, current_flow, flow_scope, recorded_facts, warn_once
from chatsnapshot.instrumentation.payloads import exact, jsonable, text
from chatsnapshot.instrumentation.record import current_correlation
from chatsnapshot.ledger.envelope import Envelope
from chatsnapshot.ledger.ledger import Ledger

__all__ = ["AutogenInstrumentor", "Restored", "correlation_of", "restore"]

_SWITCH = Switch("ag2-classic")
_patches: list[tuple[Any, str, Any]] = []  # (owner, attribute, original)
# agent -> (correlation, last fact) of its last run, so that a continued chat continues both
_agent_runs: weakref.WeakKeyDictionary[Any, tuple[str, str | None]] = weakref.WeakKeyDictionary()
# agent -> the flow of the run it is in now: the LLM call of an async reply runs in an executor thread
_agent_flows: weakref.WeakKeyDictionary[Any, Flow] = weakref.WeakKeyDictionary()
_quiet: contextvars.ContextVar[bool] = contextvars.ContextVar("chatsnapshot_autogen_quiet", default=False)


class AutogenInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Records AG2 0.x agents' facts; see the module docstring."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("ag2 >= 0.14, < 1",)

    def _instrument(self, **kwargs: Any) -> None:
        from autogen import ConversableAgent, GroupChat
        from autogen.io.console import IOConsole
        from autogen.io.thread_io_stream import AsyncThreadIOStream, ThreadIOStream
        from autogen.oai.client import OpenAIWrapper

        _SWITCH.tracer_provider = kwargs.get("tracer_provider")
        if not _patches:
            A = ConversableAgent
            for name, wrapper in (("initiate_chat", _initiate_chat), ("a_initiate_chat", _a_initiate_chat),
                                  ("send", _send), ("a_send", _a_send),
                                  ("generate_reply", _generate_reply), ("a_generate_reply", _a_generate_reply),
                                  ("execute_function", _execute_function),
                                  ("a_execute_function", _a_execute_function),
                                  ("get_human_input", _get_human_input), ("a_get_human_input", _a_get_human_input)):
                _patch(A, name, wrapper)
            _patch(OpenAIWrapper, "create", _create)
            _patch(GroupChat, "select_speaker", _select_speaker)
            _patch(GroupChat, "a_select_speaker", _a_select_speaker)
            _patch(GroupChat, "_auto_select_speaker", _quietly)
            _patch(GroupChat, "a_auto_select_speaker", _a_quietly)
            for stream in (IOConsole, ThreadIOStream, AsyncThreadIOStream):
                _patch(stream, "send", _stream_send)
            for stream in (ThreadIOStream, AsyncThreadIOStream):
                _patch(stream, "__init__", _stream_init)
        _SWITCH.on = True

    def _uninstrument(self, **kwargs: Any) -> None:
        _SWITCH.on = False
        while _patches:
            owner, name, original = _patches.pop()
            setattr(owner, name, original)


def correlation_of(agent: Any) -> str | None:
    """The correlation of the last run ``agent`` took part in (None before its first)."""
    entry = _agent_runs.get(agent)
    return entry[0] if entry else None


@dataclass
class Restored:
    """What ``restore`` rebuilt: the run's correlation, the group chat messages (for
    ``GroupChatManager.resume`` or ``run_group_chat(pattern, messages=...)``) and the
    last recorded context variables."""

    correlation_id: str
    group_messages: list[dict[str, Any]] = field(default_factory=list)
    context_variables: dict[str, Any] = field(default_factory=dict)


def restore(source: Ledger | str | Path | Iterable[Envelope], correlation_id: str, agents: Iterable[Any],
            *, groupchat: Any = None) -> Restored:
    """Rebuild the conversation state of ``agents`` from a recorded run, ready to continue.

    Each agent's ``chat_messages`` gets back what it held: every recorded message
    is appended to the sender's history (role assistant) and the recipient's (role
    user), through AG2's own ``_append_oai_message`` — keyed by agent object, as AG2
    keeps them — for agents matched by name (messages with an agent not given are
    skipped). ``groupchat.messages`` gets the group's messages back when given;
    ``Restored.context_variables`` holds the last recorded values (also set on the
    agents' ``context_variables``). Nothing is re-recorded, and the next chat of these
    agents with ``clear_history=False`` records into the same correlation, its first
    fact caused by the last recorded one.
    """
    facts = recorded_facts(source, correlation_id)
    by_name = {a.name: a for a in agents}
    restored = Restored(correlation_id)
    for fact in facts:
        payload = fact.payload
        if fact.event_type == "execution.message" and "message" in payload:
            sender, recipient = by_name.get(payload["sender"]), by_name.get(payload["recipient"])
            message = payload["message"]
            if sender is not None and recipient is not None:
                sender._append_oai_message(message, recipient, role="assistant", name=sender.name)
                recipient._append_oai_message(message, sender, role="user", name=sender.name)
            if payload.get("group") and not payload.get("silent"):
                restored.group_messages.append({**message, "name": payload["sender"]} if isinstance(message, dict)
                                               else {"content": message, "role": "user", "name": payload["sender"]})
        elif fact.event_type == "execution.state_change" and payload.get("scope") == "context_variables":
            restored.context_variables.update(payload.get("values", {}))
    if groupchat is not None:
        groupchat.messages[:] = restored.group_messages
    for agent in by_name.values():
        variables = getattr(agent, "context_variables", None)
        if variables is not None and restored.context_variables:
            variables.update(restored.context_variables)
        _agent_runs[agent] = (correlation_id, facts[-1].event_id)
    return restored


# -- patching ---------------------------------------------------------------------------------


def _patch(owner: Any, name: str, wrapper: Any) -> None:
    original = owner.__dict__.get(name)
    if original is None:
        return  # not in this AG2 release

    @functools.wraps(original)
    def patched(*args: Any, **kwargs: Any) -> Any:
        return wrapper(original, *args, **kwargs)

    patched.__dict__.pop("__otel_wrapped__", None)  # autogen.opentelemetry must still wrap on top of us
    _patches.append((owner, name, original))
    setattr(owner, name, patched)


def _flow_of(agent: Any = None) -> Flow | None:
    if not _SWITCH.on or _quiet.get():
        return None
    flow = current_flow()
    if flow is None and agent is not None:
        flow = _agent_flows.get(agent)
    return flow


def _name(agent: Any) -> str | None:
    name = getattr(agent, "name", agent)
    return name if isinstance(name, str) and name else None


# -- runs -------------------------------------------------------------------------------------


@contextlib.contextmanager
def _run(sender: Any, recipient: Any, kwargs: dict[str, Any]) -> Any:
    """Around an initiate_chat: a run when outermost, else a nested chat of the current run."""
    flow = _flow_of()
    if flow is not None or _quiet.get() or not _SWITCH.on:
        if flow is not None:
            flow.emit("execution.handoff", {"kind": "nested_chat", "from": _name(sender), "to": _name(recipient),
                                            "max_turns": kwargs.get("max_turns")}, agent=_name(sender))
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
    previous = _agent_runs.get(sender)
    if previous is not None and kwargs.get("clear_history") is False:
        correlation, last = previous
    if explicit is not None and explicit != correlation:
        correlation, last = explicit, None
    flow = Flow(_SWITCH, correlation, last)
    agents = [a for a in (sender, recipient) if a is not None]
    for agent in (*agents, *(getattr(getattr(recipient, "groupchat", None), "agents", None) or ())):
        _agent_flows[agent] = flow
    with flow_scope(flow), flow.span("autogen.run", agent=_name(sender)):
        flow.emit("execution.run_started", {"initiator": _name(sender), "recipient": _name(recipient),
                                            "max_turns": kwargs.get("max_turns"),
                                            "clear_history": kwargs.get("clear_history", True)},
                  agent=_name(sender))
        try:
            yield flow
        except BaseException as e:
            flow.emit("execution.run_failed", {"error": e}, agent=_name(sender))
            raise
        else:
            flow.emit("execution.run_completed", {"initiator": _name(sender), "recipient": _name(recipient)},
                      agent=_name(sender))
        finally:
            for agent in (*agents, *(getattr(getattr(recipient, "groupchat", None), "agents", None) or ())):
                _agent_flows.pop(agent, None)
                _agent_runs[agent] = (flow.correlation_id, flow.last)


def _initiate_chat(original: Any, self: Any, recipient: Any, *args: Any, **kwargs: Any) -> Any:
    with _run(self, recipient, kwargs):
        return original(self, recipient, *args, **kwargs)


async def _a_initiate_chat(original: Any, self: Any, recipient: Any, *args: Any, **kwargs: Any) -> Any:
    with _run(self, recipient, kwargs):
        return await original(self, recipient, *args, **kwargs)


def _caller_context() -> tuple[Any, str | None] | None:
    """In a run's worker thread: the OTel context and correlation of the thread that built the
    run's IOStream (``run``, ``run_iter``, ``run_group_chat``), else None."""
    from autogen.io.base import IOStream

    return getattr(IOStream.get_default(), "_chatsnapshot_context", None)


_MISSING = object()


def _stream_init(original: Any, self: Any, *args: Any, **kwargs: Any) -> None:
    from opentelemetry import context

    original(self, *args, **kwargs)
    with contextlib.suppress(Exception):
        self._chatsnapshot_context = (context.get_current(), current_correlation())


# -- messages and turns -----------------------------------------------------------------------


def _message_fact(sender: Any, message: Any, recipient: Any, silent: bool) -> None:
    flow = _flow_of(sender)
    if flow is None:
        return
    content = message.get("content") if isinstance(message, dict) else message
    payload: dict[str, Any] = {"role": "assistant" if _name(sender) else "user", "sender": _name(sender),
                               "recipient": _name(recipient), "content": text(jsonable(content)),
                               "silent": bool(silent), "group": hasattr(recipient, "groupchat")
                               or hasattr(sender, "groupchat")}
    if isinstance(message, dict):
        for key in ("tool_calls", "tool_responses", "function_call", "name"):
            if message.get(key):
                payload[key] = jsonable(message[key])
    recorded = exact(message)
    payload["message"] = recorded if recorded is not None else text(jsonable(content))
    flow.emit("execution.message", payload, agent=_name(sender))


def _send(original: Any, self: Any, message: Any, recipient: Any, request_reply: bool | None = None,
          silent: bool | None = False) -> Any:
    _message_fact(self, message, recipient, bool(silent))
    return original(self, message, recipient, request_reply, silent)


async def _a_send(original: Any, self: Any, message: Any, recipient: Any, request_reply: bool | None = None,
                  silent: bool | None = False) -> Any:
    _message_fact(self, message, recipient, bool(silent))
    return await original(self, message, recipient, request_reply, silent)


@contextlib.contextmanager
def _turn(agent: Any, kwargs: dict[str, Any], args: tuple[Any, ...]) -> Any:
    flow = _flow_of(agent)
    if flow is None or hasattr(agent, "groupchat"):  # a manager's reply is the whole group loop, not a turn
        yield None
        return
    sender = kwargs.get("sender", args[1] if len(args) > 1 else None)  # generate_reply(messages, sender)
    before = _context_variables(agent)
    with flow.span(f"autogen.turn {agent.name}", agent=agent.name):
        flow.emit("execution.turn_started", {"agent": agent.name, "sender": _name(sender)}, agent=agent.name)
        outcome: dict[str, Any] = {}
        try:
            yield outcome
        except BaseException as e:
            flow.emit("execution.turn_completed", {"status": "error", "error": e}, agent=agent.name)
            raise
        after = _context_variables(agent)
        if after != before:
            changed = {k: v for k, v in after.items() if before.get(k, _MISSING) != v}
            flow.emit("execution.state_change", {"scope": "context_variables", "changed": changed,
                                                 "removed": sorted(k for k in before if k not in after),
                                                 "values": after}, agent=agent.name)
        reply = outcome.get("reply")
        flow.emit("execution.turn_completed", {"status": "ok", "replied": reply is not None,
                                               "content": text(jsonable(reply.get("content") if isinstance(reply, dict)
                                                                        else reply))}, agent=agent.name)


def _generate_reply(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    with _turn(self, kwargs, args) as outcome:
        reply = original(self, *args, **kwargs)
        if outcome is not None:
            outcome["reply"] = reply
        return reply


async def _a_generate_reply(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    with _turn(self, kwargs, args) as outcome:
        reply = await original(self, *args, **kwargs)
        if outcome is not None:
            outcome["reply"] = reply
        return reply


def _context_variables(agent: Any) -> dict[str, Any]:
    variables = getattr(agent, "context_variables", None)
    to_dict = getattr(variables, "to_dict", None)
    try:
        data = to_dict() if callable(to_dict) else {}
    except Exception:
        return {}
    return {str(k): jsonable(v, max_chars=2_000) for k, v in data.items()}


# -- LLM calls, tools, human input --------------------------------------------------------------


def _create(original: Any, self: Any, **config: Any) -> Any:
    flow = _flow_of(config.get("agent"))
    if flow is None:
        return original(self, **config)
    agent = _name(config.get("agent"))
    messages = config.get("messages") or []
    request = {"messages": len(messages), "last_role": messages[-1].get("role") if messages and isinstance(
        messages[-1], dict) else None, "models": [c.get("model") for c in getattr(self, "_config_list", [])]}
    with flow.span("autogen.llm_call", agent=agent):
        started = time.perf_counter()
        try:
            response = original(self, **config)
        except BaseException as e:
            flow.emit("execution.llm_call", {"status": "error", "request": request, "error": e,
                                             "duration_ms": _ms(started)}, agent=agent)
            raise
        usage = getattr(response, "usage", None)
        usage = {k: getattr(usage, k, None) for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
        choices = []
        for choice in getattr(response, "choices", None) or []:
            message = getattr(choice, "message", None)
            get = message.get if isinstance(message, dict) else lambda k, m=message: getattr(m, k, None)
            choices.append({"content": text(jsonable(get("content"))), "tool_calls": jsonable(get("tool_calls"))})
        fact = flow.emit("execution.llm_call", {
            "status": "ok", "request": request, "duration_ms": _ms(started), "model": getattr(response, "model", None),
            "response": choices, "usage": usage, "cost": jsonable(getattr(response, "cost", None)),
        }, agent=agent)
        if fact is not None:
            flow.anchors["llm"] = fact
        if any(v for v in usage.values()):
            flow.emit("execution.usage", {"scope": "llm_call", "model": getattr(response, "model", None), **usage,
                                          "cost": jsonable(getattr(response, "cost", None))}, agent=agent)
        return response


@contextlib.contextmanager
def _tool(agent: Any, func_call: Any, call_id: Any) -> Any:
    flow = _flow_of(agent)
    if flow is None:
        yield None
        return
    name = func_call.get("name") if isinstance(func_call, dict) else None
    with flow.span(f"autogen.tool {name}", agent=agent.name, tool=name or ""):
        call = flow.emit("execution.tool_call", {"call_id": call_id, "name": name,
                                                 "arguments": text(jsonable(func_call.get("arguments")))},
                         agent=agent.name, cause=flow.anchors.get("llm"))
        outcome: dict[str, Any] = {}
        try:
            yield outcome
        except BaseException as e:
            flow.emit("execution.tool_result", {"call_id": call_id, "name": name, "status": "error", "error": e},
                      agent=agent.name, cause=call)
            raise
        success, result = outcome.get("result", (False, None))
        content = result.get("content") if isinstance(result, dict) else result
        flow.emit("execution.tool_result", {"call_id": call_id, "name": name, "status": "ok" if success else "error",
                                            "result": jsonable(content)}, agent=agent.name, cause=call)


def _execute_function(original: Any, self: Any, func_call: Any, call_id: Any = None, verbose: bool = False) -> Any:
    with _tool(self, func_call, call_id) as outcome:
        result = original(self, func_call, call_id=call_id, verbose=verbose)
        if outcome is not None:
            outcome["result"] = result
        return result


async def _a_execute_function(original: Any, self: Any, func_call: Any, call_id: Any = None,
                              verbose: bool = False) -> Any:
    with _tool(self, func_call, call_id) as outcome:
        result = await original(self, func_call, call_id=call_id, verbose=verbose)
        if outcome is not None:
            outcome["result"] = result
        return result


@contextlib.contextmanager
def _human(agent: Any, prompt: str) -> Any:
    flow = _flow_of(agent)
    if flow is None:
        yield None
        return
    with flow.span("autogen.human_input", agent=agent.name):
        request = flow.emit("execution.human_input_requested", {"prompt": text(prompt)}, agent=agent.name)
        outcome: dict[str, Any] = {}
        yield outcome
        flow.emit("execution.human_input_received", {"content": text(jsonable(outcome.get("reply")))},
                  agent=agent.name, origin="ui", cause=request)


def _get_human_input(original: Any, self: Any, prompt: str, *args: Any, **kwargs: Any) -> Any:
    with _human(self, prompt) as outcome:
        reply = original(self, prompt, *args, **kwargs)
        if outcome is not None:
            outcome["reply"] = reply
        return reply


async def _a_get_human_input(original: Any, self: Any, prompt: str, *args: Any, **kwargs: Any) -> Any:
    with _human(self, prompt) as outcome:
        reply = await original(self, prompt, *args, **kwargs)
        if outcome is not None:
            outcome["reply"] = reply
        return reply


# -- group chats ------------------------------------------------------------------------------


def _speaker_fact(groupchat: Any, last_speaker: Any, selected: Any) -> None:
    flow = _flow_of(last_speaker)
    if flow is None:
        return
    method = groupchat.speaker_selection_method
    method = method if isinstance(method, str) else getattr(method, "__name__", type(method).__name__)
    flow.emit("execution.speaker_selected", {"method": method, "selected": _name(selected),
                                             "previous": _name(last_speaker)}, agent=_name(selected))


def _select_speaker(original: Any, self: Any, last_speaker: Any, selector: Any) -> Any:
    selected = original(self, last_speaker, selector)
    _speaker_fact(self, last_speaker, selected)
    return selected


async def _a_select_speaker(original: Any, self: Any, last_speaker: Any, selector: Any) -> Any:
    selected = await original(self, last_speaker, selector)
    _speaker_fact(self, last_speaker, selected)
    return selected


def _quietly(original: Any, *args: Any, **kwargs: Any) -> Any:
    token = _quiet.set(True)
    try:
        return original(*args, **kwargs)
    finally:
        _quiet.reset(token)


async def _a_quietly(original: Any, *args: Any, **kwargs: Any) -> Any:
    token = _quiet.set(True)
    try:
        return await original(*args, **kwargs)
    finally:
        _quiet.reset(token)


# -- the IOStream's events: termination, transitions, safeguards ---------------------------------

_TRANSITIONS = {"ReplyResultTransitionEvent": "reply_result", "OnConditionLLMTransitionEvent": "on_condition",
                "OnContextConditionTransitionEvent": "on_context_condition", "AfterWorksTransitionEvent": "after_work"}


def _stream_send(original: Any, self: Any, message: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        _on_event(getattr(message, "content", message))
    except Exception as e:  # a bug here must never break the conversation
        warn_once(f"autogen:{type(message).__name__}", "could not record an AG2 event (%s: %s)", type(e).__name__, e)
    return original(self, message, *args, **kwargs)


def _on_event(event: Any) -> None:
    kind = type(event).__name__
    if kind == "TerminationEvent":
        flow = _flow_of()
        if flow is not None:
            flow.emit("execution.termination", {"reason": event.termination_reason, "sender": _name(event.sender),
                                                "recipient": _name(event.recipient)}, agent=_name(event.sender))
    elif kind in _TRANSITIONS:
        source = getattr(event, "source_agent", None)
        flow = _flow_of(source)
        if flow is not None:
            target = getattr(event, "transition_target", None)
            display = getattr(target, "display_name", None)
            flow.emit("execution.handoff", {"kind": _TRANSITIONS[kind], "from": _name(source),
                                            "to": text(display() if callable(display) else jsonable(target))},
                      agent=_name(source))
    elif kind == "SafeguardEvent":
        flow = _flow_of()
        if flow is not None:
            flow.emit("execution.alert", {"source": "safeguard", "severity": event.event_type,
                                          "message": text(event.message), "guardrail": event.guardrail_type,
                                          "action": event.action, "from": event.source_agent,
                                          "to": event.target_agent}, agent=event.source_agent)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
