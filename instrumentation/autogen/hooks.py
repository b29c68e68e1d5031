"""AG2 0.x wrappers that record what happens inside a run: messages, turns, LLM calls, tools,
human input, speaker selection, and the IOStream's termination / transition / safeguard events.

Each wrapper is called as ``wrapper(original, self, ...)`` (see ``autogen._patch``) and records
only inside a run (``autogen_runs.flow_of``); it never changes what the original returns.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from chatsnapshot.instrumentation.autogen.runs import MISSING, flow_of, name_of, quiet
from chatsnapshot.instrumentation.flows import MODEL_PARAMETERS, elapsed_ms, model_inputs, warn_once
from chatsnapshot.instrumentation.payloads import exact, jsonable, text

__all__ = ["a_execute_function", "a_generate_reply", "a_get_human_input", "a_quietly", "a_select_speaker", "a_send",
           "create", "execute_function", "generate_reply", "get_human_input", "quietly", "select_speaker", "send",
           "stream_send"]


# -- messages and turns -----------------------------------------------------------------------


def _message_fact(sender: Any, message: Any, recipient: Any, silent: bool) -> None:
    flow = flow_of(sender)
    if flow is None:
        return
    content = message.get("content") if isinstance(message, dict) else message
    payload: dict[str, Any] = {"role": _role(sender, message), "sender": name_of(sender),
                               "recipient": name_of(recipient), "content": text(jsonable(content)),
                               "silent": bool(silent), "group": hasattr(recipient, "groupchat")
                               or hasattr(sender, "groupchat"), "relayed": hasattr(sender, "groupchat")}
    if isinstance(message, dict):
        for key in ("tool_calls", "tool_responses", "function_call", "name"):
            if message.get(key):
                payload[key] = message[key]  # made JSON-safe by Flow.emit
    recorded = exact(message)
    payload["message"] = recorded if recorded is not None else text(jsonable(content))
    flow.emit("execution.message", payload, agent=name_of(sender))


def _role(sender: Any, message: Any) -> str:
    """A message's chat role: ``tool``/``function`` for tool responses, ``assistant`` from an
    agent with an LLM, ``user`` from one without (a user proxy, a human); a group chat
    manager's relay of a speaker's message has the speaker's role."""
    role = message.get("role") if isinstance(message, dict) else None
    if role in ("tool", "function"):
        return str(role)
    author, groupchat = sender, getattr(sender, "groupchat", None)
    if groupchat is not None and isinstance(message, dict) and message.get("name"):
        with contextlib.suppress(Exception):
            author = groupchat.agent_by_name(message["name"]) or sender
    return "assistant" if getattr(author, "llm_config", False) else "user"


def send(original: Any, self: Any, message: Any, recipient: Any, request_reply: bool | None = None,
          silent: bool | None = False) -> Any:
    _message_fact(self, message, recipient, bool(silent))
    return original(self, message, recipient, request_reply, silent)


async def a_send(original: Any, self: Any, message: Any, recipient: Any, request_reply: bool | None = None,
                  silent: bool | None = False) -> Any:
    _message_fact(self, message, recipient, bool(silent))
    return await original(self, message, recipient, request_reply, silent)


@contextlib.contextmanager
def _turn(agent: Any, kwargs: dict[str, Any], args: tuple[Any, ...]) -> Any:
    flow = flow_of(agent)
    if flow is None or hasattr(agent, "groupchat"):  # a manager's reply is the whole group loop, not a turn
        yield None
        return
    sender = kwargs.get("sender", args[1] if len(args) > 1 else None)  # generate_reply(messages, sender)
    before = _context_variables(agent)
    with flow.span(f"autogen.turn {agent.name}", agent=agent.name):
        flow.emit("execution.turn_started", {"agent": agent.name, "sender": name_of(sender)}, agent=agent.name)
        outcome: dict[str, Any] = {}
        try:
            yield outcome
        except BaseException as e:
            flow.emit("execution.turn_completed", {"status": "error", "error": e}, agent=agent.name)
            raise
        after = _context_variables(agent)
        if after != before:
            changed = {k: v for k, v in after.items() if before.get(k, MISSING) != v}
            flow.emit("execution.state_change", {"scope": "context_variables", "changed": changed,
                                                 "removed": sorted(k for k in before if k not in after),
                                                 "values": after}, agent=agent.name)
        reply = outcome.get("reply")
        flow.emit("execution.turn_completed", {"status": "ok", "replied": reply is not None,
                                               "content": text(jsonable(reply.get("content") if isinstance(reply, dict)
                                                                        else reply))}, agent=agent.name)


def generate_reply(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    with _turn(self, kwargs, args) as outcome:
        reply = original(self, *args, **kwargs)
        if outcome is not None:
            outcome["reply"] = reply
        return reply


async def a_generate_reply(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
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


def create(original: Any, self: Any, **config: Any) -> Any:
    flow = flow_of(config.get("agent"))
    if flow is None:
        return original(self, **config)
    agent = name_of(config.get("agent"))
    messages = config.get("messages") or []
    request = {"messages": len(messages), "last_role": messages[-1].get("role") if messages and isinstance(
        messages[-1], dict) else None, "models": [c.get("model") for c in getattr(self, "_config_list", [])]}
    inputs = model_inputs(flow, agent, *_asked_with(self, config, messages))
    with flow.span("autogen.llm_call", agent=agent):
        started = time.perf_counter()
        try:
            response = original(self, **config)
        except BaseException as e:
            flow.emit("execution.llm_call", {"status": "error", "request": request, "error": e,
                                             "duration_ms": elapsed_ms(started), "inputs": inputs}, agent=agent)
            raise
        usage = getattr(response, "usage", None)
        usage = {k: getattr(usage, k, None) for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
        choices = []
        for choice in getattr(response, "choices", None) or []:
            message = getattr(choice, "message", None)
            get = message.get if isinstance(message, dict) else lambda k, m=message: getattr(m, k, None)
            choices.append({"content": text(jsonable(get("content"))), "tool_calls": jsonable(get("tool_calls"))})
        fact = flow.emit("execution.llm_call", {
            "status": "ok", "request": request, "duration_ms": elapsed_ms(started), "inputs": inputs,
            "model": getattr(response, "model", None),
            "response": choices, "usage": usage, "cost": getattr(response, "cost", None),
        }, agent=agent)
        if fact is not None:
            flow.anchors["llm"] = fact
        if any(v for v in usage.values()):
            flow.emit("execution.usage", {"scope": "llm_call", "model": getattr(response, "model", None), **usage,
                                          "cost": getattr(response, "cost", None)}, agent=agent)
        return response


def _asked_with(wrapper: Any, config: dict[str, Any],
                messages: list[Any]) -> tuple[list[str], list[dict[str, Any]], dict[str, Any]]:
    """The system prompt, the tools offered and the model parameters of one ``OpenAIWrapper.create``:
    the system messages, ``tools`` (OpenAI's function format), and the parameters of the call and of
    the wrapper's first config (never its credentials)."""
    system = [m["content"] for m in messages if isinstance(m, dict) and m.get("role") == "system"
              and isinstance(m.get("content"), str)]
    first = (getattr(wrapper, "_config_list", None) or [{}])[0]
    first = first if isinstance(first, dict) else {}
    tools = []
    for tool in config.get("tools") or first.get("tools") or []:  # the call's, else the client's (llm_config)
        function = tool.get("function", tool) if isinstance(tool, dict) else {}
        if function.get("name"):
            tools.append({"name": function["name"], "description": function.get("description"),
                          "parameters": function.get("parameters")})
    parameters = {k: v for k in MODEL_PARAMETERS if (v := config.get(k, first.get(k))) is not None}
    return system, tools, jsonable(parameters)


@contextlib.contextmanager
def _tool(agent: Any, func_call: Any, call_id: Any) -> Any:
    flow = flow_of(agent)
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
                                            "result": content}, agent=agent.name, cause=call)


def execute_function(original: Any, self: Any, func_call: Any, call_id: Any = None, verbose: bool = False) -> Any:
    with _tool(self, func_call, call_id) as outcome:
        result = original(self, func_call, call_id=call_id, verbose=verbose)
        if outcome is not None:
            outcome["result"] = result
        return result


async def a_execute_function(original: Any, self: Any, func_call: Any, call_id: Any = None,
                              verbose: bool = False) -> Any:
    with _tool(self, func_call, call_id) as outcome:
        result = await original(self, func_call, call_id=call_id, verbose=verbose)
        if outcome is not None:
            outcome["result"] = result
        return result


@contextlib.contextmanager
def _human(agent: Any, prompt: str) -> Any:
    flow = flow_of(agent)
    if flow is None:
        yield None
        return
    with flow.span("autogen.human_input", agent=agent.name):
        request = flow.emit("execution.human_input_requested", {"prompt": text(prompt)}, agent=agent.name)
        outcome: dict[str, Any] = {}
        yield outcome
        flow.emit("execution.human_input_received", {"content": text(jsonable(outcome.get("reply")))},
                  agent=agent.name, origin="ui", cause=request)


def get_human_input(original: Any, self: Any, prompt: str, *args: Any, **kwargs: Any) -> Any:
    with _human(self, prompt) as outcome:
        reply = original(self, prompt, *args, **kwargs)
        if outcome is not None:
            outcome["reply"] = reply
        return reply


async def a_get_human_input(original: Any, self: Any, prompt: str, *args: Any, **kwargs: Any) -> Any:
    with _human(self, prompt) as outcome:
        reply = await original(self, prompt, *args, **kwargs)
        if outcome is not None:
            outcome["reply"] = reply
        return reply


# -- group chats ------------------------------------------------------------------------------


def _speaker_fact(groupchat: Any, last_speaker: Any, selected: Any) -> None:
    flow = flow_of(last_speaker)
    if flow is None:
        return
    method = groupchat.speaker_selection_method
    method = method if isinstance(method, str) else getattr(method, "__name__", type(method).__name__)
    flow.emit("execution.speaker_selected", {"method": method, "selected": name_of(selected),
                                             "previous": name_of(last_speaker)}, agent=name_of(selected))


def select_speaker(original: Any, self: Any, last_speaker: Any, selector: Any) -> Any:
    selected = original(self, last_speaker, selector)
    _speaker_fact(self, last_speaker, selected)
    return selected


async def a_select_speaker(original: Any, self: Any, last_speaker: Any, selector: Any) -> Any:
    selected = await original(self, last_speaker, selector)
    _speaker_fact(self, last_speaker, selected)
    return selected


def quietly(original: Any, *args: Any, **kwargs: Any) -> Any:
    token = quiet.set(True)
    try:
        return original(*args, **kwargs)
    finally:
        quiet.reset(token)


async def a_quietly(original: Any, *args: Any, **kwargs: Any) -> Any:
    token = quiet.set(True)
    try:
        return await original(*args, **kwargs)
    finally:
        quiet.reset(token)


# -- the IOStream's events: termination, transitions, safeguards ---------------------------------

_TRANSITIONS = {"ReplyResultTransitionEvent": "reply_result", "OnConditionLLMTransitionEvent": "on_condition",
                "OnContextConditionTransitionEvent": "on_context_condition", "AfterWorksTransitionEvent": "after_work"}


def stream_send(original: Any, self: Any, message: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        _on_event(getattr(message, "content", message))
    except Exception as e:  # a bug here must never break the conversation
        warn_once(f"autogen:{type(message).__name__}", "could not record an AG2 event (%s: %s)", type(e).__name__, e)
    return original(self, message, *args, **kwargs)


def _on_event(event: Any) -> None:
    kind = type(event).__name__
    if kind == "TerminationEvent":
        flow = flow_of()
        if flow is not None:
            flow.emit("execution.termination", {"reason": event.termination_reason, "sender": name_of(event.sender),
                                                "recipient": name_of(event.recipient)}, agent=name_of(event.sender))
    elif kind in _TRANSITIONS:
        source = getattr(event, "source_agent", None)
        flow = flow_of(source)
        if flow is not None:
            target = getattr(event, "transition_target", None)
            display = getattr(target, "display_name", None)
            flow.emit("execution.handoff", {"kind": _TRANSITIONS[kind], "from": name_of(source),
                                            "to": text(display() if callable(display) else jsonable(target))},
                      agent=name_of(source))
    elif kind == "SafeguardEvent":
        flow = flow_of()
        if flow is not None:
            flow.emit("execution.alert", {"source": "safeguard", "event": event.event_type,
                                          "severity": "info" if event.event_type in ("load", "check") else "warning",
                                          "message": text(event.message), "guardrail": event.guardrail_type,
                                          "action": event.action, "from": event.source_agent,
                                          "to": event.target_agent}, agent=event.source_agent)
