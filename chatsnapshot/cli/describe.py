"""chatsnapshot describe: one run in a page: status, times, agents, counts, tokens, cost, errors, lineage."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from chatsnapshot.cli import common
from chatsnapshot.cli.output import add_format_argument, json_default
from chatsnapshot.ledger import RunSummary
from chatsnapshot.ledger.projections import describe

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
