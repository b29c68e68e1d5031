"""chatsnapshot context: a run's newest history as chat messages for a prompt, within a budget."""

from __future__ import annotations

import argparse
import sys

from chatsnapshot.cli import common
from chatsnapshot.cli.output import add_format_argument, write_jsonl
from chatsnapshot.ledger.projections import context
from chatsnapshot.ledger.projections.context import MIN_BUDGET


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "context", parents=[parent], help="print a run's history as chat messages within a size budget",
        description="Print a run's history as an OpenAI-style list of {role, content} messages, newest facts "
                    "kept, within --max-chars characters of content; a first system message says how many "
                    "older facts were left out.",
    )
    common.add_run_arguments(p)
    add_format_argument(p, ("json", "jsonl"), default="json")
    p.add_argument("--max-chars", type=_budget, default=8000, metavar="N",
                   help=f"the budget: characters of message content (default 8000, at least {MIN_BUDGET})")
    p.set_defaults(func=run)


def _budget(text: str) -> int:
    value = common.non_negative(text)
    if value < MIN_BUDGET:
        raise argparse.ArgumentTypeError(f"at least {MIN_BUDGET} characters, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    result = context(common.run_envelopes(args), args.max_chars)
    if args.format == "jsonl":
        write_jsonl(result.messages)
    else:
        common.write_text(result.to_json(), None)
    print(f"{result.kept} facts in {result.chars} characters; {result.left_out} older left out", file=sys.stderr)
    return 0
