"""chatsnapshot view: the web UI's run view as one self-contained HTML file."""

from __future__ import annotations

import argparse
import sys

from chatsnapshot.cli import common


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "view", parents=[parent], help="write a run as one self-contained HTML page",
        description="Write one HTML file that opens anywhere with no network and no server: the run view of "
                    "`chatsnapshot ui` (conversation, timeline, causal DAG, facts, LLM calls and cost, model "
                    "inputs, errors; the envelope, causes and effects of whichever fact you click), with every "
                    "envelope of the run inside it.",
    )
    common.add_run_arguments(p)
    p.add_argument("-o", "--output", metavar="FILE", default="run.html", help="where to write (default run.html)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chatsnapshot.ui.export import export_page

    envelopes = common.run_envelopes(args)
    common.write_text(export_page(envelopes), args.output)
    if args.output != "-":
        print(f"wrote {args.output}: {len(envelopes)} facts of run {envelopes[0].correlation_id}", file=sys.stderr)
    return 0
