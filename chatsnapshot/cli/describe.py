"""chatsnapshot describe: one run in a page: status, times, agents, counts, tokens, cost, errors, lineage."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from chatsnapshot.cli import common
from chatsnapshot.cli.output import add_format_argument, json_default
from chatsnapshot.ledger import Envelope, RunSummary
from chatsnapshot.ledger.envelope import FORK_TYPE
from chatsnapshot.ledger.projections import fact_summary, metrics
from chatsnapshot.ledger.projections._facts import lane_of
from chatsnapshot.ledger.timestamps import format_rfc3339_ns

_ERRORS_SHOWN = 10


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "describe", parents=[parent], help="one run at a glance: status, agents, tokens, cost, errors, lineage",
        description="Summarise one run: its status, first and last fact, duration, agents and services, facts "
                    "by type, LLM calls with tokens and cost, tool calls and failures, human input and wait, its "
                    "errors (each with its seq), and its lineage: the run it was forked from and its forks.",
    )
    common.add_run_arguments(p)
    add_format_argument(p, ("table", "json"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    facts = common.run_envelopes(args)
    summary = describe(facts, _runs(args))
    if args.format == "json":
        json.dump(summary, sys.stdout, ensure_ascii=False, indent=2, default=json_default)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render(summary))
    return 0


def _runs(args: argparse.Namespace) -> list[RunSummary]:
    if args.server:
        with common.connect(args) as client:
            return common.remote(client.runs, args.server)
    with common.open_readers(args) as ledger:
        return ledger.runs()


def describe(facts: list[Envelope], runs: list[RunSummary]) -> dict[str, Any]:
    """The run ``facts`` (in seq order) summed up; ``runs``: the ledger's, for the forks of this one."""
    m = metrics(facts).summary()
    run_id = facts[0].correlation_id
    errors = [{"seq": f.seq, "type": f.event_type, "says": fact_summary(f)} for f in facts if _failed(f)]
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


def _failed(f: Envelope) -> bool:
    if f.event_type == "execution.run_failed":
        return True
    if f.event_type in ("execution.tool_result", "execution.llm_call"):
        p = f.payload
        return p.get("status") == "error" or bool(p.get("error"))
    return False


def render(d: dict[str, Any]) -> str:
    llm, tools, human = d["llm"], d["tools"], d["human"]
    cost = "-" if llm["cost"] is None else f"{llm['cost']:.6f}"
    lines = [
        ("run", d["correlation_id"]), ("status", d["status"]),
        ("started", d["first_occurred_at"]), ("last fact", d["last_occurred_at"]),
        ("duration", f"{d['duration_ms']} ms"), ("agents", ", ".join(d["agents"]) or "-"),
        ("services", ", ".join(d["services"]) or "-"),
        ("facts", f"{d['facts']} (" + ", ".join(f"{k.removeprefix('execution.')} {v}"
                                                for k, v in d["event_types"].items()) + ")"),
        ("llm calls", f"{llm['calls']} ({llm['failures']} failed), tokens {llm['prompt_tokens']} in / "
                      f"{llm['completion_tokens']} out / {llm['total_tokens']} total, cost {cost}"),
        ("tool calls", f"{tools['calls']} ({tools['failures']} failed)"),
        ("human input", f"{human['requests']} request(s), waited {human['wait_ms']} ms"),
    ]
    if d["forked_from"]:
        f = d["forked_from"]
        lines.append(("forked from", f"{f['forked_from']} at seq {f['at_seq']} (fact {f['fact_id']})"))
    if d["forks"]:
        lines.append(("forks", ", ".join(d["forks"])))
    for agent, inputs in d["model_inputs"].items():
        prompt = " ".join(" / ".join(inputs["system_prompt"]).split())
        lines.append((f"model {agent}", f"system: {prompt[:100] + ('…' if len(prompt) > 100 else '') or '-'}; "
                                        f"tools: {', '.join(inputs['tools']) or '-'}; "
                                        f"parameters: {json.dumps(inputs['parameters'], ensure_ascii=False)} "
                                        f"(seq {inputs['seq']})"))
    out = [f"{k:<12} {v}" for k, v in lines]
    errors = d["errors"]
    out.append(f"{'errors':<12} {len(errors) or 'none'}")
    out += [f"  #{e['seq']} {e['type'].removeprefix('execution.')}: {e['says']}" for e in errors[:_ERRORS_SHOWN]]
    if len(errors) > _ERRORS_SHOWN:
        out.append(f"  … {len(errors) - _ERRORS_SHOWN} more (chatsnapshot replay RUN --type tool_result)")
    return "\n".join(out) + "\n"
