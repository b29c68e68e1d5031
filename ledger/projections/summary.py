"""One line per fact, for people: what ``chatsnapshot replay`` prints in its table.

``fact_summary(envelope)`` says what the fact says in a few words: a message's text, a
tool call's name and arguments, a tool result's status, an LLM call's model and tokens,
a run's status and error. The runtime's raw event (AG2's ``ag2`` serialisation, kept
for restore) is left out; ``replay --wide`` and the JSON formats show the whole payload.
"""

from __future__ import annotations

from typing import Any

from chatsnapshot.ledger.envelope import Envelope
from chatsnapshot.ledger.projections._facts import dumps, erased_text

__all__ = ["RAW_KEYS", "fact_summary"]

RAW_KEYS = ("ag2", "raw", "event")  # a runtime's own serialisation of the event: kept, not shown
_WIDTH = 160


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    return "" if value is None else dumps(value)


def fact_summary(envelope: Envelope, payload: dict[str, Any] | None = None, width: int = _WIDTH) -> str:
    """A short description of what ``envelope`` records (at most ``width`` characters)."""
    erased = erased_text(envelope)
    if erased is not None:
        return erased
    p = envelope.payload if payload is None else payload
    kind = envelope.event_type.removeprefix("execution.")
    if kind == "message":
        text = _text(p.get("content") if "content" in p else p.get("message"))
        to = p.get("to") or p.get("recipient")
        calls = p.get("tool_calls")
        if calls and not text:
            text = "calls " + ", ".join(str(c.get("name", "?")) if isinstance(c, dict) else str(c) for c in calls)
        out = (f"→ {to}: " if to else "") + text
    elif kind == "tool_call":
        out = f"{p.get('name', '?')}({_text(p.get('arguments', ''))})"
    elif kind == "tool_result":
        status = p.get("status") or ("error" if p.get("error") else "ok")
        out = f"{p.get('name', '?')} {status}: {_text(p.get('error') or p.get('result') or p.get('content'))}"
    elif kind == "llm_call":
        tokens = (p.get("input_tokens") or 0) + (p.get("output_tokens") or 0)
        out = " ".join(str(x) for x in (p.get("model"), p.get("status"), f"{tokens} tokens" if tokens else None,
                                        _text(p.get("error"))) if x)
    elif kind in ("run_completed", "run_failed", "turn_completed", "termination"):
        out = " ".join(str(x) for x in (p.get("status"), p.get("reason"), _text(p.get("error")),
                                        _text(p.get("content"))) if x)
    elif kind == "handoff":
        out = " ".join(str(x) for x in (p.get("kind"), p.get("from"), "→", p.get("to") or "?", p.get("status")) if x)
    elif kind in ("human_input_requested", "human_input_received"):
        out = _text(p.get("prompt") or p.get("content"))
    else:
        rest = {k: v for k, v in p.items() if k not in RAW_KEYS}
        out = dumps(rest) if rest else ""
    out = " ".join(out.split())  # one line
    return out if len(out) <= width else out[: width - 1] + "…"
