"""chatsnapshot stats: metrics per run, for one run or every run (kept up to date incrementally)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from chatsnapshot.cli import common
from chatsnapshot.cli.output import add_format_argument, emit, print_table
from chatsnapshot.ledger.projections import ProjectionEngine, RunMetricsProjection, metrics

_PROGRESS_EVERY = 100_000  # positions between progress lines while catching up


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "stats", parents=[parent], help="metrics per run: facts, tools, LLM calls, tokens, cost, wall, human wait",
        description="Print metrics for one run (ID), or for every run in the ledger. Every run's metrics are "
                    "a projection kept with the ledger (projections/run_metrics.json): each call reads only the "
                    "envelopes committed since the last one.",
    )
    p.add_argument("correlation_id", metavar="ID", nargs="?",
                   help="one run (its correlation id or a unique start of it); default: every run")
    add_format_argument(p, ("table", "json", "jsonl", "csv"))
    common.add_server_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.correlation_id is not None:
        rows = [metrics(common.run_envelopes(args)).summary()]
    elif args.server:
        raise common.UserError("stats of every run reads the ledger directory: drop --server (use --ledger), "
                               "or name one run")
    else:
        with common.open_reader(args) as ledger:
            state = ProjectionEngine(ledger, RunMetricsProjection()).update(_Progress())
        rows = sorted((m.summary() for m in state.values()), key=lambda m: (m["correlation_id"]))
    if args.format == "json" and args.correlation_id is not None:
        common.write_text(_json(rows[0]), None)  # one run: its object
    elif args.format != "table":
        columns = list(rows[0]) if rows else []
        emit(args.format, columns, [tuple(r.get(c) for c in columns) for r in rows])
    elif args.correlation_id is not None:
        _print_one(rows[0])
    else:
        print_table(("correlation_id", "status", "facts", "wall_ms", "tool_calls", "tool_failures", "llm_calls",
                     "total_tokens", "cost", "human_wait_ms"),
                    [(r["correlation_id"], r["status"], r["facts"], r["wall_ms"], r["tool_calls"],
                      r["tool_failures"], r["llm_calls"], r["total_tokens"], _cost(r["cost"]), r["human_wait_ms"])
                     for r in rows])
    return 0


class _Progress:
    """A line on stderr each time catching up crosses another ``_PROGRESS_EVERY`` positions."""

    def __init__(self) -> None:
        self.next = _PROGRESS_EVERY

    def __call__(self, position: int, last: int) -> None:
        if position >= self.next or (position == last and self.next > _PROGRESS_EVERY):
            print(f"stats: folded {position:,} of {last:,} positions", file=sys.stderr)
            self.next = (position // _PROGRESS_EVERY + 1) * _PROGRESS_EVERY


def _cost(cost: float | None) -> str:
    return "-" if cost is None else f"{cost:.6f}"


def _print_one(row: dict[str, Any]) -> None:
    for key, value in row.items():
        if key != "event_types":
            print(f"{key:<18} {_cost(value) if key == 'cost' else value}")
    print("event_types")
    for event_type, count in row["event_types"].items():
        print(f"  {event_type:<34} {count}")


def _json(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, ensure_ascii=False, indent=2) + "\n"
