"""chatsnapshot timeline: a run's facts in time, in lanes per agent, with operation durations."""

from __future__ import annotations

import argparse

from chatsnapshot.cli import common
from chatsnapshot.cli.output import add_format_argument
from chatsnapshot.ledger.projections import render_timeline, timeline


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "timeline", parents=[parent], help="print a run's facts in time, per agent, with durations",
        description="Print each fact's offset from the run's first fact and its lane (agent), then the "
                    "operations (run, turn, tool, human wait, LLM call) with their durations.",
    )
    common.add_run_arguments(p)
    add_format_argument(p, ("table", "json"), aliases={"text": "table"})
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    line = timeline(common.run_envelopes(args))
    common.write_text(line.to_json() if args.format == "json" else render_timeline(line), None)
    return 0
