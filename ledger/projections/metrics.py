"""Metrics per run: counts per event type, tool calls and failures, LLM calls and failures and
their time, tokens and cost where recorded, wall time, human wait time.

``RunMetrics`` is a fold: ``add`` one envelope at a time (in seq order), ``to_state`` /
``from_state`` to checkpoint it as JSON, ``summary`` for the numbers. ``metrics(replay)`` folds
a whole run; the projection engine folds only what is new since its checkpoint. Tokens come
from ``usage`` facts (an ``llm_call``'s own usage is not counted again); cost sums every
numeric ``cost`` of a ``usage`` fact; wall time is first fact to last; human wait sums each
``human_input_requested`` to the ``human_input_received`` it caused (or with its
``request_id``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from chatsnapshot.ledger.envelope import Envelope
from chatsnapshot.ledger.projections._facts import short_type
from chatsnapshot.ledger.projections.prices import cost_of

__all__ = ["RunMetrics", "metrics"]

_TOKENS = ("prompt_tokens", "completion_tokens", "total_tokens")


@dataclass
class RunMetrics:
    correlation_id: str = ""
    facts: int = 0
    event_types: dict[str, int] = field(default_factory=dict)
    first_ns: int | None = None
    last_ns: int | None = None
    status: str = "unknown"  # running, completed, failed (from run_* facts)
    tool_calls: int = 0
    tool_failures: int = 0
    llm_calls: int = 0
    llm_failures: int = 0
    llm_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost: float | None = None
    cost_estimated: bool = False  # some of the cost comes from the price table (projections.prices)
    human_requests: int = 0
    human_wait_ns: int = 0
    pending_human: dict[str, int] = field(default_factory=dict)  # request event_id / request_id -> time asked

    def add(self, e: Envelope) -> None:
        """Fold one more envelope of this run in."""
        self.correlation_id = self.correlation_id or e.correlation_id
        self.facts += 1
        self.event_types[e.event_type] = self.event_types.get(e.event_type, 0) + 1
        self.first_ns = e.occurred_at if self.first_ns is None else min(self.first_ns, e.occurred_at)
        self.last_ns = e.occurred_at if self.last_ns is None else max(self.last_ns, e.occurred_at)
        kind = short_type(e.event_type)
        if kind not in _COUNTED:
            return
        payload = e.payload
        if kind in ("run_started", "run_completed", "run_failed"):
            self.status = {"run_started": "running", "run_completed": "completed", "run_failed": "failed"}[kind]
        elif kind == "tool_call":
            self.tool_calls += 1
        elif kind == "tool_result" and payload.get("status") == "error":
            self.tool_failures += 1
        elif kind == "llm_call":
            self.llm_calls += 1
            self.llm_failures += payload.get("status") == "error"
            if _number(payload.get("duration_ms")):
                self.llm_ms = round(self.llm_ms + payload["duration_ms"], 6)
        elif kind == "usage":
            for key in _TOKENS:
                if _number(payload.get(key)):
                    setattr(self, key, getattr(self, key) + int(payload[key]))
            # none reported: the user's price table, if it knows the model
            cost, estimated = cost_of(payload, payload.get("prompt_tokens"), payload.get("completion_tokens"))
            self.cost_estimated = self.cost_estimated or estimated
            if cost is not None:
                self.cost = round((self.cost or 0.0) + cost, 12)
        elif kind == "human_input_requested":
            self.human_requests += 1
            self.pending_human[e.event_id] = e.occurred_at
            if payload.get("request_id"):
                self.pending_human[f"request:{payload['request_id']}"] = e.occurred_at
        elif kind == "human_input_received":
            asked = self.pending_human.pop(e.causation_id or "", None)
            by_request = self.pending_human.pop(f"request:{payload.get('request_id')}", None)
            asked = asked if asked is not None else by_request
            if asked is not None:
                self.human_wait_ns += max(e.occurred_at - asked, 0)

    @property
    def errors(self) -> int:
        """What went wrong in the run: failed tool results and LLM calls, and the run itself failing."""
        return self.tool_failures + self.llm_failures + (self.status == "failed")

    def summary(self) -> dict[str, Any]:
        """The numbers (what ``chatsnapshot stats`` prints)."""
        state = self.to_state()
        del state["pending_human"], state["first_ns"], state["last_ns"], state["human_wait_ns"]
        wall = 0 if self.first_ns is None or self.last_ns is None else self.last_ns - self.first_ns
        return {**state, "wall_ms": round(wall / 1e6, 3), "human_wait_ms": round(self.human_wait_ns / 1e6, 3),
                "event_types": dict(sorted(self.event_types.items()))}

    def to_state(self) -> dict[str, Any]:
        """A JSON-ready copy (``dataclasses.asdict`` is several times slower on thousands of runs)."""
        return {**vars(self), "event_types": dict(self.event_types), "pending_human": dict(self.pending_human)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RunMetrics:
        return cls(**{"cost_estimated": False, **state})  # a state saved before the field existed


_COUNTED = {"run_started", "run_completed", "run_failed", "tool_call", "tool_result", "llm_call", "usage",
            "human_input_requested", "human_input_received"}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def metrics(envelopes: Iterable[Envelope]) -> RunMetrics:
    """The metrics of one run's envelopes (in seq order)."""
    folded = RunMetrics()
    for e in envelopes:
        folded.add(e)
    return folded
