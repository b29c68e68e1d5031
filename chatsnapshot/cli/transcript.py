"""chatsnapshot transcript: a run's conversation, tool calls, results and human input inline."""

from __future__ import annotations

import argparse

from chatsnapshot.cli import common
from chatsnapshot.cli.output import add_format_argument
from chatsnapshot.ledger.projections import render_transcript, transcript, transcript_json


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "transcript", parents=[parent], help="print a run's conversation",
        description="Print a run's messages in order with tool calls, tool results, human input and handoffs "
                    "inline, each attributed to its agent. Relayed group-chat copies and tool responses (shown "
                    "as tool results) appear once.",
    )
    common.add_run_arguments(p)
    p.add_argument("--agent", metavar="NAME", help="only what NAME said or did, and what was addressed to it")
    add_format_argument(p, ("table", "json"), aliases={"text": "table"})
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    entries = transcript(common.run_envelopes(args), agent=args.agent)
    common.write_text(transcript_json(entries) if args.format == "json" else render_transcript(entries), None)
    return 0
