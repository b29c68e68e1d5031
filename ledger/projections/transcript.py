"""The transcript: a run's conversation in order, with tool calls, tool results, human input
and handoffs inline, each line attributed to an agent.

Message facts that repeat what another fact says (``_facts.repeats_another_fact``: a group chat
manager's relays, tool responses, messages with no text) are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from chatsnapshot.ledger.envelope import Envelope
from chatsnapshot.ledger.projections._facts import (
    dumps,
    erased_text,
    lane_of,
    own_text,
    repeats_another_fact,
    short_type,
    snippet,
)
from chatsnapshot.ledger.timestamps import format_rfc3339_ns

__all__ = ["TranscriptEntry", "render_transcript", "transcript", "transcript_json"]


@dataclass(frozen=True)
class TranscriptEntry:
    """One line of a transcript. ``kind``: message, tool_call, tool_result,
    human_input_requested, human_input_received, handoff, model_inputs (what the agent's model
    is asked with beside the conversation: system prompt, tools, parameters)."""

    seq: int
    at: str
    agent: str
    kind: str
    text: str
    to: str | None = None
    role: str | None = None
    name: str | None = None  # the tool's name
    status: str | None = None  # a tool result's: ok / error

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def transcript(envelopes: Iterable[Envelope], *, agent: str | None = None) -> list[TranscriptEntry]:
    """The transcript of one run's envelopes (in seq order); ``agent``: only that agent's lines
    and the messages addressed to it."""
    entries = [e for e in (_entry(envelope) for envelope in envelopes) if e is not None]
    return [e for e in entries if agent is None or agent in (e.agent, e.to)]


def _entry(envelope: Envelope) -> TranscriptEntry | None:
    kind = short_type(envelope.event_type)
    payload = envelope.payload
    seq, at, agent = envelope.seq or 0, format_rfc3339_ns(envelope.occurred_at), lane_of(envelope, payload)

    def entry(text: str, **extra: Any) -> TranscriptEntry:
        return TranscriptEntry(seq=seq, at=at, agent=agent, kind=kind, text=text, **extra)

    erased = erased_text(envelope)
    if erased is not None:  # what it said is gone; that it happened, and the marker, stay
        if kind not in _KINDS:
            return None
        return entry(erased, name="[erased]", status="erased") if kind in ("tool_call", "tool_result") else (
            entry(erased, to="[erased]") if kind == "handoff" else entry(erased))

    if kind == "message":
        if "content" not in payload:  # not the standard payload (ledger/schemas): show what it says
            return entry(snippet(own_text(payload)), role=payload.get("role"), to=payload.get("to"))
        if repeats_another_fact(payload):
            return None
        return entry(snippet(payload["content"]), role=payload.get("role"),
                               to=payload.get("to") or payload.get("recipient"))
    if kind == "tool_call":
        return entry(snippet(payload.get("arguments", "")), name=payload.get("name"))
    if kind == "tool_result":
        status = payload.get("status", "ok")
        value = payload.get("result") if status == "ok" else payload.get("error", payload.get("result"))
        return entry(snippet(value if value is not None else ""), name=payload.get("name"),
                               status=status)
    if kind == "human_input_requested":
        return entry(snippet(payload.get("prompt", "")))
    if kind == "human_input_received":
        return entry(snippet(payload.get("content", "")))
    if kind == "handoff":
        what = payload.get("kind", "handoff")
        return entry(what, to=payload.get("to"))
    if kind == "model_inputs":
        tools = ", ".join(str(t.get("name")) for t in payload.get("tools", []) if isinstance(t, dict)) or "-"
        system = "\n".join(s for s in payload.get("system_prompt", []) if isinstance(s, str)) or "-"
        return entry(snippet(f"system: {system}\ntools: {tools}\nparameters: {dumps(payload.get('parameters', {}))}"))
    return None


_KINDS = ("message", "tool_call", "tool_result", "human_input_requested", "human_input_received", "handoff",
          "model_inputs")


def render_transcript(entries: list[TranscriptEntry]) -> str:
    """Text for people: one block per entry, the text indented under its header."""
    out = []
    for e in entries:
        header = {
            "message": f"{e.agent} → {e.to}" if e.to else e.agent,
            "tool_call": f"{e.agent} calls {e.name}",
            "tool_result": f"{e.agent} ← {e.name} ({e.status})",
            "human_input_requested": f"{e.agent} asks the human",
            "human_input_received": f"human → {e.agent}",
            "handoff": f"{e.agent} hands off to {e.to}",
            "model_inputs": f"{e.agent}'s model is asked with",
        }[e.kind]
        out.append(f"#{e.seq:<4} {e.at}  {header}")
        if e.kind != "handoff":
            out.extend(f"      {line}" for line in e.text.splitlines() or [""])
        else:
            out.append(f"      ({e.text})")
    return "\n".join(out) + ("\n" if out else "")


def transcript_json(entries: list[TranscriptEntry]) -> str:
    return dumps([e.to_dict() for e in entries], indent=2) + "\n"
