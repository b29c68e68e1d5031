"""AG2 1.x stream events as facts: what ``ConversationContext.send`` sees, in the order the stream stores it.

Events the stream keeps in its history carry AG2's own serialisation of themselves
(``payload["ag2"]``), so that ``chatsnapshot.instrumentation.ag2.restore`` can rebuild the
history exactly. Every payload says which stream (``payload["stream"]``): delegated agents
run on streams of their own inside the parent's run.
"""

from __future__ import annotations

from typing import Any

from chatsnapshot.instrumentation.flows import Flow
from chatsnapshot.instrumentation.payloads import exact, text

__all__ = ["agent_name", "on_event", "usage_fields"]


def on_event(flow: Flow, event: Any, context: Any) -> None:
    """Record ``event`` (sent on ``context``'s stream) as the fact it is, if it is one."""
    from ag2.events import (
        HaltEvent,
        HumanMessage,
        ModelRequest,
        ModelResponse,
        ObserverAlert,
        TaskCompleted,
        TaskFailed,
        TaskStarted,
        ToolCallEvent,
        ToolErrorEvent,
        ToolResultEvent,
        UsageEvent,
    )

    agent = agent_name(context)
    stream = str(context.stream.id)
    if isinstance(event, ModelRequest):
        parts = [text(getattr(p, "content", None)) or type(p).__name__ for p in event.parts]
        flow.emit("execution.message", {"role": "user", "to": agent, "content": "\n".join(parts),
                                        **_kept(event, stream)})
    elif isinstance(event, ModelResponse):
        calls = [{"id": c.id, "name": c.name, "arguments": text(c.arguments)} for c in event.tool_calls.calls]
        flow.emit("execution.message", {"role": "assistant", "content": text(event.content), "tool_calls": calls,
                                        **_kept(event, stream)}, agent=agent)
    elif isinstance(event, ToolCallEvent):
        fact = flow.emit("execution.tool_call", {"call_id": event.id, "name": event.name,
                                                 "arguments": text(event.arguments), **_kept(event, stream)},
                         agent=agent, cause=flow.anchors.get("llm"))
        if fact is not None:
            flow.anchors[event.id] = fact
    elif isinstance(event, ToolResultEvent):
        failed = isinstance(event, ToolErrorEvent)
        outcome = {"error": getattr(event, "error", None)} if failed else {"result": _tool_result(event)}
        flow.emit("execution.tool_result", {"call_id": event.parent_id, "name": event.name,
                                            "status": "error" if failed else "ok", **outcome, **_kept(event, stream)},
                  agent=agent, cause=flow.anchors.pop(event.parent_id, None))
    elif isinstance(event, HumanMessage):
        flow.emit("execution.human_input_received", {"content": text(event.content), "request_id": event.parent_id,
                                                     **_kept(event, stream)},
                  agent=agent, origin="ui", cause=flow.anchors.pop(event.parent_id, None))
    elif isinstance(event, UsageEvent):
        flow.emit("execution.usage", {"kind": event.kind, "model": event.model, "provider": event.provider,
                                      "label": event.label, **usage_fields(event.usage), **_kept(event, stream)},
                  agent=agent)
    elif isinstance(event, TaskStarted):
        flow.emit("execution.handoff", {"kind": "delegate", "from": agent, "to": event.agent_name,
                                        "task_id": event.task_id, "objective": text(event.objective),
                                        "tool_call_id": event.parent_tool_call_id, **_kept(event, stream)},
                  agent=agent)
    elif isinstance(event, (TaskCompleted, TaskFailed)):
        failed = isinstance(event, TaskFailed)
        flow.emit("execution.handoff", {"kind": "return", "status": "error" if failed else "ok",
                                        "from": event.agent_name, "to": agent, "task_id": event.task_id,
                                        **({"error": event.error} if isinstance(event, TaskFailed)
                                           else {"result": text(event.result)}),
                                        **_kept(event, stream)},
                  agent=event.agent_name)
    elif isinstance(event, ObserverAlert):
        flow.emit("execution.alert", {"source": event.source, "severity": event.severity, "message": event.message,
                                      "data": event.data, **_kept(event, stream)}, agent=agent)
    elif isinstance(event, HaltEvent):
        flow.emit("execution.alert", {"source": event.source, "severity": "halt", "message": event.reason,
                                      "alerts": event.alerts, **_kept(event, stream)}, agent=agent)


def agent_name(context: Any) -> str | None:
    """The name of the agent whose turn ``context`` belongs to."""
    from ag2.utils import AGENT_CONTEXT_DEPENDENCY_KEY

    agent = (getattr(context, "dependencies", None) or {}).get(AGENT_CONTEXT_DEPENDENCY_KEY)
    name = getattr(agent, "name", None)
    return name if isinstance(name, str) and name else None


def _kept(event: Any, stream: str) -> dict[str, Any]:
    """What a fact for an event the stream keeps in its history carries for restore."""
    return {"stream": stream, **_serialised(event)}


def _serialised(event: Any) -> dict[str, Any]:
    """The event in AG2's own serialisation, for restore; a note instead when it is too big."""
    try:
        from ag2.events._serialization import qualified_name

        recorded = exact({"__event__": qualified_name(event), **event.to_dict()})
    except Exception:
        recorded = None
    return {"ag2": recorded} if recorded is not None else {"ag2_omitted": "not serialisable or over 512 KiB"}


def _tool_result(event: Any) -> Any:
    parts = getattr(getattr(event, "result", None), "parts", None)
    if not parts:
        return None
    values = [getattr(p, "content", None) if hasattr(p, "content") else getattr(p, "data", p) for p in parts]
    return values[0] if len(values) == 1 else values  # made JSON-safe by Flow.emit


def usage_fields(usage: Any) -> dict[str, Any]:
    """The token counts an AG2 ``Usage`` holds (those that are set)."""
    fields = ("prompt_tokens", "completion_tokens", "total_tokens", "cache_read_input_tokens",
              "cache_creation_input_tokens", "thinking_tokens")
    return {f: getattr(usage, f) for f in fields if getattr(usage, f, None) is not None}
