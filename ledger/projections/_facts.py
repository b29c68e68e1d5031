"""What every projection reads off an envelope: its lane, its short type, its text, and JSON
that is the same bytes every time."""

from __future__ import annotations

import json
from typing import Any

from chatsnapshot.ledger.envelope import Envelope

__all__ = ["dumps", "erased_text", "lane_of", "own_text", "repeats_another_fact", "short_type", "snippet"]


def lane_of(envelope: Envelope, payload: dict[str, Any] | None = None) -> str:
    """The agent a fact belongs to: its source agent; a message to an agent that no agent sent
    (the user's prompt) is the user's; else the origin (system, integration, ui, ...)."""
    if envelope.source.agent:
        return envelope.source.agent
    payload = envelope.payload if payload is None else payload
    if envelope.event_type == "execution.message" and payload.get("role") == "user":
        return "user"
    return envelope.source.origin


def erased_text(envelope: Envelope) -> str | None:
    """What to show for a fact whose payload was erased (``chatsnapshot erase``), else None."""
    if not envelope.erased:
        return None
    marker = envelope.payload.get("erasure") or {}
    return f"[erased {marker.get('at', '')} by {marker.get('by', '?')}: {marker.get('reason', '')}]"


def own_text(payload: dict[str, Any]) -> Any:
    """What a message payload that is not the standard one (no ``content``: ledger/schemas) says:
    its one string value when it has just one, else the payload, a runtime's serialisation and
    raw attributes left out."""
    rest = {k: v for k, v in payload.items() if k not in ("ag2", "attributes", "stream", "role", "to")}
    strings = [v for v in rest.values() if isinstance(v, str) and v]
    return strings[0] if len(strings) == 1 else rest


def repeats_another_fact(payload: dict[str, Any]) -> bool:
    """A message fact that says nothing another fact does not: a group chat manager's relay of a
    speaker's message, a tool response (its ``tool_result`` fact says it) or one with no text (an
    assistant turn that only asks for tools: its ``tool_call`` facts say it)."""
    return bool(payload.get("relayed")) or payload.get("role") in ("tool", "function") or payload.get(
        "content") in (None, "", [])


def short_type(event_type: str) -> str:
    """``execution.tool_call`` -> ``tool_call``; other namespaces keep theirs (``system.x``)."""
    return event_type.removeprefix("execution.")


def snippet(value: Any, limit: int = 2_000) -> str:
    """A payload value as one piece of text: strings as they are, the rest as compact JSON."""
    text = value if isinstance(value, str) else dumps(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def dumps(value: Any, *, indent: int | None = None) -> str:
    """Deterministic JSON: sorted keys, no ASCII escaping, ``str`` for anything else."""
    separators = (",", ": ") if indent else (",", ":")
    return json.dumps(value, sort_keys=True, ensure_ascii=False, indent=indent, separators=separators, default=str)
