"""chatsnapshot view: a run as one self-contained HTML page (timeline, causal DAG, payloads)."""

from __future__ import annotations

import argparse
import sys

from chatsnapshot.cli import common
from chatsnapshot.ledger.projections import run_page


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "view", parents=[parent], help="write a run as one self-contained HTML page",
        description="Write one HTML file that opens anywhere with no network: the run's timeline in lanes "
                    "per agent, its causal DAG, and the envelope of whichever fact you click.",
    )
    common.add_run_arguments(p)
    p.add_argument("-o", "--output", metavar="FILE", default="run.html", help="where to write (default run.html)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    envelopes = common.run_envelopes(args)
    common.write_text(run_page(envelopes), args.output)
    if args.output != "-":
        print(f"wrote {args.output}: {len(envelopes)} facts of run {envelopes[0].correlation_id}", file=sys.stderr)
    return 0
