"""Small synthetic runs for projection tests: a strategy of facts of every kind that matters."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from chatsnapshot.ledger import Envelope

AGENTS = ("planner", "researcher", "user")
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=400)


def fact(event_type: str, payload: dict[str, Any], *, run: str = "run-1", agent: str | None = "planner",
         at: int = 1_700_000_000_000_000_000, cause: str | None = None) -> Envelope:
    return Envelope.create(event_type, correlation_id=run, payload=payload, origin="agent", agent=agent,
                           occurred_at=at, causation_id=cause)


@st.composite
def payloads(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    kind = draw(st.sampled_from(["message", "tool_call", "tool_result", "human_input_requested",
                                 "human_input_received", "handoff", "turn_started", "llm_call", "usage",
                                 "run_started", "run_completed", "state_change"]))
    text = draw(TEXT)
    payload = {
        "message": {"role": draw(st.sampled_from(["user", "assistant", "tool"])), "content": text,
                    "relayed": draw(st.booleans())},
        "tool_call": {"name": "weather", "arguments": text, "call_id": "c1"},
        "tool_result": {"name": "weather", "status": draw(st.sampled_from(["ok", "error"])), "result": text,
                        "error": text, "call_id": "c1"},
        "human_input_requested": {"prompt": text},
        "human_input_received": {"content": text},
        "handoff": {"kind": "delegate", "from": "planner", "to": "researcher"},
        "turn_started": {"agent": "planner"},
        "llm_call": {"status": "ok", "duration_ms": draw(st.floats(0, 1e4, allow_nan=False))},
        "usage": {"prompt_tokens": draw(st.integers(0, 5000)), "completion_tokens": draw(st.integers(0, 5000)),
                  "total_tokens": 1, "cost": draw(st.none() | st.floats(0, 1, allow_nan=False))},
        "run_started": {"agent": "planner"},
        "run_completed": {"content": text},
        "state_change": {"scope": "context_variables", "changed": {"k": text}},
    }[kind]
    return f"execution.{kind}", payload


@st.composite
def runs(draw: st.DrawFn, run: str = "run-1", max_size: int = 40) -> list[Envelope]:
    """One run's facts in seq order: increasing times, each caused by an earlier one (or nothing)."""
    drawn = draw(st.lists(st.tuples(payloads(), st.sampled_from(AGENTS), st.integers(0, 10**9)), max_size=max_size))
    out: list[Envelope] = []
    at = 1_700_000_000_000_000_000
    for (event_type, payload), agent, step in drawn:
        at += step
        cause = out[draw(st.integers(0, len(out) - 1))].event_id if out and draw(st.booleans()) else None
        out.append(fact(event_type, payload, run=run, agent=agent, at=at, cause=cause))
    return out
