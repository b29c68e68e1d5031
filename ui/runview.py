"""A run as the web UI shows it: one JSON document built from the run's replay.

Every fact gets a ``kind`` and a ``status`` from one table (``LEGEND``), so that the page, the
exported file (``chatsnapshot view``) and docs/ui.md draw and name them alike; a fact that
failed is ``status: error`` whatever its kind, and is drawn red everywhere. Payloads are not
in the document (a 10,000-fact run would weigh megabytes): the page asks for one when it is
opened (``fact_json``).
"""

from __future__ import annotations

from typing import Any

from chatsnapshot.ledger import Envelope, RunSummary, envelope_to_json
from chatsnapshot.ledger.projections import describe, fact_summary, failed, timeline, transcript
from chatsnapshot.ledger.projections._facts import lane_of
from chatsnapshot.ledger.projections.prices import cost_of

__all__ = ["LEGEND", "fact_json", "kind_of", "run_document"]

# kind: (label, the event types it covers, what it means). The page's legend is this table.
LEGEND: dict[str, tuple[str, tuple[str, ...], str]] = {
    "message": ("message", ("execution.message",), "an agent or the user said something"),
    "human": ("human input", ("execution.human_input_requested", "execution.human_input_received"),
              "a person was asked, or answered"),
    "tool_call": ("tool call", ("execution.tool_call",), "an agent asked for a tool"),
    "tool_result": ("tool result", ("execution.tool_result",), "what the tool returned"),
    "llm_call": ("LLM call", ("execution.llm_call", "execution.usage"), "a model was called; tokens and cost"),
    "model_inputs": ("model inputs", ("execution.model_inputs",), "the system prompt, tools and parameters"),
    "handoff": ("handoff", ("execution.handoff", "execution.speaker_selected"), "the turn passed to another agent"),
    "run": ("run", ("execution.run_started", "execution.run_completed", "execution.turn_started",
                    "execution.turn_completed", "execution.termination"), "a run or turn began or ended"),
    "fork": ("fork", ("system.run_forked",), "this run was forked from another"),
    "state": ("state", ("execution.state_change", "system.erasure"), "context or state changed"),
    "alert": ("alert", ("execution.alert",), "a guardrail or check spoke up"),
    "error": ("error", ("execution.run_failed", "system.error"), "something failed"),
    "other": ("other", (), "any other fact (integration, workflow, custom types)"),
}
_KIND = {t: kind for kind, (_, types, _) in LEGEND.items() for t in types}
STATUSES = {"ok": "went as asked", "error": "failed (drawn red, with a ✕)", "pending": "not answered yet"}


def kind_of(e: Envelope) -> tuple[str, str | None]:
    """The fact's kind (a key of ``LEGEND``) and status: ``error`` when it records a failure."""
    kind = _KIND.get(e.event_type, "other")
    if failed(e) or e.event_type == "system.error" or (e.event_type == "execution.alert"
                                                         and e.payload.get("severity") in ("error", "critical")):
        return kind, "error"
    if e.event_type in ("execution.tool_result", "execution.llm_call", "execution.run_completed"):
        return kind, "ok"
    return kind, None


def run_document(facts: list[Envelope], runs: list[RunSummary]) -> dict[str, Any]:
    """Everything the run page draws, for the run ``facts`` (its replay, in seq order)."""
    line = timeline(facts)
    start = line.start_ns  # the earliest fact (not always seq 1): the timeline's zero, and every t_ms's
    effects: dict[str, list[int]] = {}
    seq_of = {f.event_id: f.seq for f in facts}
    for f in facts:
        if f.cause_id in seq_of:
            effects.setdefault(f.cause_id, []).append(f.seq or 0)
    rows: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    agents: dict[str, dict[str, Any]] = {}
    for f in facts:
        kind, status = kind_of(f)
        lane = lane_of(f)
        row: dict[str, Any] = {
            "seq": f.seq, "id": f.event_id, "type": f.event_type, "kind": kind, "status": status, "agent": lane,
            "t_ms": round((f.occurred_at - start) / 1e6, 3), "says": fact_summary(f, width=240),
            "cause": seq_of.get(f.cause_id or ""), "cause_id": f.cause_id, "dangling": bool(f.causation_id)
            and f.cause_id not in seq_of, "effects": effects.get(f.event_id, []),
        }
        p = f.payload
        if f.event_type == "execution.llm_call":
            prompt, completion = p.get("input_tokens"), p.get("output_tokens")
            cost, estimated = cost_of(p, prompt, completion)
            call = {"seq": f.seq, "agent": lane, "model": p.get("model"), "status": status,
                    "input_tokens": prompt, "output_tokens": completion, "cost": cost, "cost_estimated": estimated,
                    "duration_ms": p.get("duration_ms")}
            calls.append(call)
            row["tokens"] = (prompt or 0) + (completion or 0)
        if f.event_type == "execution.usage":
            a = agents.setdefault(lane, {"agent": lane, "prompt_tokens": 0, "completion_tokens": 0, "cost": None})
            for key in ("prompt_tokens", "completion_tokens"):
                if isinstance(p.get(key), int):
                    a[key] += p[key]
            cost, _ = cost_of(p, p.get("prompt_tokens"), p.get("completion_tokens"))
            if cost is not None:
                a["cost"] = round((a["cost"] or 0.0) + cost, 12)
        rows.append(row)
    return {
        "run": describe(facts, runs),
        "facts": rows,
        "conversation": [e.to_dict() for e in transcript(facts)],
        "timeline": {"end_ms": round(line.end_ns / 1e6, 3), "lanes": line.lanes,  # times count from the first fact
                     "operations": [{"kind": o.kind, "lane": o.lane, "name": o.name,
                                     "start_ms": round(o.start_ns / 1e6, 3),
                                     "end_ms": None if o.end_ns is None else round(o.end_ns / 1e6, 3),
                                     "start_seq": o.start_seq, "status": o.status} for o in line.operations]},
        "llm_calls": calls,
        "agents": sorted(agents.values(), key=lambda a: a["agent"]),
        "legend": legend(),
    }


def legend() -> list[dict[str, Any]]:
    return [{"kind": k, "label": label, "types": list(types), "means": means}
            for k, (label, types, means) in LEGEND.items()] + [
        {"status": s, "means": means} for s, means in STATUSES.items()]


def fact_json(facts: list[Envelope], seq: int) -> dict[str, Any] | None:
    """The whole envelope of the fact at ``seq`` (None: no such fact)."""
    for f in facts:
        if f.seq == seq:
            return envelope_to_json(f)
    return None
