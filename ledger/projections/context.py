"""Context for prompts: a run's history as chat messages (OpenAI-style ``role``/``content``),
within a budget of characters, newest facts kept.

What becomes a message: conversation messages (as the transcript keeps them) with their role;
a tool call (assistant) and its result (user), human input (user); every other fact (runs
starting and ending, handoffs, terminations, alerts, state changes, questions to the human,
the application's own facts) as a short ``system`` note. The bookkeeping of turns, LLM
calls, usage and speaker selection (``SKIPPED``) is left out: the messages say it.

The budget counts the characters of every ``content``. Facts are taken newest first while
they fit; when any are left out, the first message says how many (``system``). The newest
fact is always kept: cut to fit, with a marker, when it alone is over the budget.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

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

__all__ = ["MIN_BUDGET", "SKIPPED", "PromptContext", "context"]

MIN_BUDGET = 200  # room for the "left out" note and the start of the newest fact
_CUT = " …[cut to fit the context budget]"
SKIPPED = frozenset({"execution.turn_started", "execution.turn_completed", "execution.llm_call",
                     "execution.usage", "execution.speaker_selected"})


@dataclass
class PromptContext:
    messages: list[dict[str, str]] = field(default_factory=list)
    kept: int = 0  # facts rendered
    left_out: int = 0  # older facts that did not fit

    @property
    def chars(self) -> int:
        return sum(len(m["content"]) for m in self.messages)

    def to_json(self) -> str:
        return dumps(self.messages, indent=2) + "\n"


def context(envelopes: Iterable[Envelope], max_chars: int) -> PromptContext:
    """The newest history of one run's envelopes (in seq order) that fits ``max_chars``
    characters of content (at least ``MIN_BUDGET``)."""
    if max_chars < MIN_BUDGET:
        raise ValueError(f"max_chars must be at least {MIN_BUDGET}, got {max_chars}")
    rendered = [m for m in (_message(e) for e in envelopes) if m is not None]
    kept: list[dict[str, str]] = []
    used = 0
    for message in reversed(rendered):
        left = len(rendered) - len(kept) - 1  # older than this one
        note = len(_note(left, max_chars)) if left else 0
        if used + len(message["content"]) + note > max_chars:
            if kept:
                break
            room = max_chars - note - len(_CUT)  # the newest fact alone is over the budget: cut it
            message = {**message, "content": message["content"][:room] + _CUT}
        kept.append(message)
        used += len(message["content"])
    kept.reverse()
    left_out = len(rendered) - len(kept)
    if left_out:
        kept.insert(0, {"role": "system", "content": _note(left_out, max_chars)})
    return PromptContext(kept, len(rendered) - left_out, left_out)


def _note(left_out: int, budget: int) -> str:
    return f"[{left_out} older facts of this run left out to fit {budget} characters]"


def _message(e: Envelope) -> dict[str, str] | None:
    if e.event_type in SKIPPED:
        return None
    payload = e.payload
    agent, kind = lane_of(e, payload), short_type(e.event_type)
    erased = erased_text(e)
    if erased is not None:
        return {"role": "system", "content": f"[{kind} by {agent}] {erased}"}
    if kind == "message":
        if "content" not in payload:  # not the standard payload: what it says
            return {"role": "user", "name": _name(agent), "content": snippet(own_text(payload))}
        if repeats_another_fact(payload):
            return None
        role = "assistant" if payload.get("role") == "assistant" else "user"
        return {"role": role, "name": _name(agent), "content": snippet(payload["content"])}
    if kind == "tool_call":
        return {"role": "assistant", "name": _name(agent),
                "content": f"[tool call] {payload.get('name')}({snippet(payload.get('arguments', ''))})"}
    if kind == "tool_result":
        value = payload.get("result") if payload.get("status", "ok") == "ok" else payload.get("error")
        return {"role": "user", "content": f"[tool result {payload.get('name')}: {payload.get('status', 'ok')}] "
                                           f"{snippet(value if value is not None else '')}"}
    if kind == "human_input_received":
        return {"role": "user", "content": snippet(payload.get("content", ""))}
    if kind == "human_input_requested":
        return {"role": "system", "content": f"[{agent} asked the human] {snippet(payload.get('prompt', ''))}"}
    detail = {k: v for k, v in payload.items() if k not in ("ag2", "stream", "values")}
    return {"role": "system", "content": f"[{kind} by {agent}] {snippet(detail, 500)}"}


def _name(agent: str) -> str:
    """OpenAI's ``name``: letters, digits, ``_`` and ``-`` only."""
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in agent)[:64] or "agent"
