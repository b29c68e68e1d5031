"""One run at a glance: status, times, agents, counts, tokens and cost, model inputs, errors, lineage
(what ``chatsnapshot describe`` prints and the web UI's run header shows)."""

from __future__ import annotations

from typing import Any

from chatsnapshot.ledger.envelope import FORK_TYPE, Envelope
from chatsnapshot.ledger.projections._facts import lane_of
from chatsnapshot.ledger.projections.metrics import metrics
from chatsnapshot.ledger.projections.summary import fact_summary
from chatsnapshot.ledger.results import RunSummary
from chatsnapshot.ledger.timestamps import format_rfc3339_ns

__all__ = ["describe", "failed"]


def describe(facts: list[Envelope], runs: list[RunSummary]) -> dict[str, Any]:
    """The run ``facts`` (in seq order) summed up; ``runs``: the ledger's, for the forks of this one."""
    m = metrics(facts).summary()
    run_id = facts[0].correlation_id
    errors = [{"seq": f.seq, "type": f.event_type, "says": fact_summary(f)} for f in facts if failed(f)]
    marker = facts[0].payload if facts[0].event_type == FORK_TYPE else None
    return {
        "correlation_id": run_id, "status": m["status"],
        "first_occurred_at": format_rfc3339_ns(facts[0].occurred_at),
        "last_occurred_at": format_rfc3339_ns(facts[-1].occurred_at), "duration_ms": m["wall_ms"],
        "agents": sorted({lane_of(f) for f in facts}),
        "services": sorted({f.source.service for f in facts if f.source.service}),
        "facts": len(facts), "event_types": m["event_types"],
        "llm": {"calls": m["llm_calls"], "failures": m["llm_failures"], "prompt_tokens": m["prompt_tokens"],
                "completion_tokens": m["completion_tokens"], "total_tokens": m["total_tokens"], "cost": m["cost"]},
        "tools": {"calls": m["tool_calls"], "failures": m["tool_failures"]},
        "human": {"requests": m["human_requests"], "wait_ms": m["human_wait_ms"]},
        "errors": errors,
        "model_inputs": _model_inputs(facts),
        "forked_from": ({k: marker.get(k) for k in ("forked_from", "at_seq", "fact_id")} if marker else None),
        "forks": [r.correlation_id for r in runs if r.forked_from == run_id],
    }


def _model_inputs(facts: list[Envelope]) -> dict[str, dict[str, Any]]:
    """What each agent's model was last asked with (``execution.model_inputs``), by agent."""
    out: dict[str, dict[str, Any]] = {}
    for f in facts:
        if f.event_type == "execution.model_inputs":
            p = f.payload
            out[str(p.get("agent") or lane_of(f))] = {
                "system_prompt": p.get("system_prompt", []), "tools": [t.get("name") for t in p.get("tools", [])],
                "parameters": p.get("parameters", {}), "seq": f.seq}
    return out


def failed(f: Envelope) -> bool:
    """Whether the fact says something went wrong: a failed run, tool result or LLM call."""
    if f.event_type == "execution.run_failed":
        return True
    if f.event_type in ("execution.tool_result", "execution.llm_call"):
        p = f.payload
        return p.get("status") == "error" or bool(p.get("error"))
    return False
