"""The timeline: each fact at its time, in lanes per agent, and the operations between them
with their durations.

Operations are read off the facts that open and close them: a run and a turn from their
``*_started`` and ``*_completed``/``*_failed`` facts recorded in the same operation span
(same ``parent_span_id``; for facts without spans, the same lane), a tool execution from a
``tool_call`` to the ``tool_result`` it caused (or with its ``call_id``), a human wait from
``human_input_requested`` to the ``human_input_received`` it caused (or with its
``request_id``), an LLM call from its
``duration_ms``. An operation that never closed has no end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from chatsnapshot.ledger.envelope import Envelope
from chatsnapshot.ledger.projections._facts import dumps, lane_of, short_type

__all__ = ["Mark", "Operation", "Timeline", "render_timeline", "timeline"]

_OPENERS = {"execution.run_started": ("run", ("execution.run_completed", "execution.run_failed")),
            "execution.turn_started": ("turn", ("execution.turn_completed",))}
_CLOSERS = {closer: kind for kind, closers in _OPENERS.values() for closer in closers}


@dataclass(frozen=True)
class Mark:
    """A fact on the timeline; ``at_ns`` counts from the run's first fact."""

    seq: int
    event_id: str
    event_type: str
    lane: str
    at_ns: int


@dataclass
class Operation:
    """``kind``: run, turn, tool, human, llm; ``end_ns`` None while open."""

    kind: str
    lane: str
    name: str
    start_ns: int
    end_ns: int | None
    start_seq: int
    end_seq: int | None
    status: str = "ok"

    @property
    def duration_ns(self) -> int | None:
        return None if self.end_ns is None else self.end_ns - self.start_ns


@dataclass
class Timeline:
    start_ns: int = 0
    end_ns: int = 0
    lanes: list[str] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    operations: list[Operation] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"start_ns": self.start_ns, "end_ns": self.end_ns, "lanes": self.lanes,
                "marks": [asdict(m) for m in self.marks],
                "operations": [{**asdict(o), "duration_ns": o.duration_ns} for o in self.operations]}

    def to_json(self) -> str:
        return dumps(self.to_dict(), indent=2) + "\n"


def timeline(envelopes: Iterable[Envelope]) -> Timeline:
    """The timeline of one run's envelopes (in seq order)."""
    facts = list(envelopes)
    if not facts:
        return Timeline()
    start = min(e.occurred_at for e in facts)
    result = Timeline(start_ns=start, end_ns=max(e.occurred_at for e in facts) - start)
    open_ops: dict[tuple[str, str], Operation] = {}  # (span or lane, kind) -> run/turn waiting for its close
    waiting: dict[str, Operation] = {}  # tool_call / human request event_id (and request_id) -> operation
    for e in facts:
        payload, at, seq = e.payload, e.occurred_at - start, e.seq or 0
        lane = lane_of(e, payload)
        if lane not in result.lanes:
            result.lanes.append(lane)
        result.marks.append(Mark(seq, e.event_id, e.event_type, lane, at))
        scope = e.parent_span_id or lane
        if e.event_type in _OPENERS:
            kind = _OPENERS[e.event_type][0]
            op = Operation(kind, lane, str(payload.get("agent") or lane), at, None, seq, None)
            open_ops[(scope, kind)] = op
            result.operations.append(op)
        elif e.event_type in _CLOSERS:
            closed = open_ops.pop((scope, _CLOSERS[e.event_type]), None)
            if closed is not None:
                closed.end_ns, closed.end_seq = at, seq
                closed.status = "error" if e.event_type.endswith("_failed") else payload.get("status", "ok")
        elif e.event_type in ("execution.tool_call", "execution.human_input_requested"):
            tool = e.event_type == "execution.tool_call"
            name = payload.get("name") if tool else "human input"
            op = Operation("tool" if tool else "human", lane, str(name or "tool"), at, None, seq, None)
            result.operations.append(op)
            waiting[e.event_id] = op
            for key in ("request_id", "call_id"):
                if payload.get(key):
                    waiting[f"{key}:{payload[key]}"] = op
        elif e.event_type in ("execution.tool_result", "execution.human_input_received"):
            answered = next((waiting[k] for k in (e.causation_id, f"request_id:{payload.get('request_id')}",
                                                  f"call_id:{payload.get('call_id')}") if k in waiting), None)
            if answered is not None and answered.end_ns is None:
                answered.end_ns, answered.end_seq = at, seq
                answered.status = payload.get("status", "ok")
        elif e.event_type == "execution.llm_call" and isinstance(payload.get("duration_ms"), int | float):
            took = int(payload["duration_ms"] * 1_000_000)
            result.operations.append(Operation("llm", lane, str(payload.get("model") or "llm"), max(at - took, 0),
                                               at, seq, seq, payload.get("status", "ok")))
    return result


def render_timeline(line: Timeline) -> str:
    """Text for people: the facts with their offsets and lanes, then the operations."""
    if not line.marks:
        return ""
    width = max(len(lane) for lane in line.lanes)
    out = [f"lanes: {', '.join(line.lanes)}", ""]
    out += [f"+{m.at_ns / 1e9:>10.6f}s  #{m.seq:<4} {m.lane:<{width}}  {short_type(m.event_type)}" for m in line.marks]
    out += ["", "operations:"]
    for op in line.operations:
        took = "open" if op.duration_ns is None else f"{op.duration_ns / 1e6:.3f} ms"
        end = "" if op.end_seq is None else f"#{op.end_seq}"
        out.append(f"  {op.kind:<5} {op.lane:<{width}}  {op.name[:32]:<32}  +{op.start_ns / 1e9:.6f}s  {took:>14}"
                   f"  #{op.start_seq}→{end}  {op.status}")
    return "\n".join(out) + "\n"
