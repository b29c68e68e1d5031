"""chatsnapshot dag: a run's causal DAG as JSON, Graphviz DOT or Mermaid."""

from __future__ import annotations

import argparse

from chatsnapshot.cli import common
from chatsnapshot.cli.output import add_format_argument
from chatsnapshot.ledger.projections import causal_dag


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "dag", parents=[parent], help="print a run's causal DAG (json, dot, mermaid)",
        description="Print a run's causal DAG: one node per fact, an edge from each cause to its effect. A "
                    "cause that is not a fact of the run is marked dangling, never dropped. "
                    "Example: chatsnapshot dag ID --format dot | dot -Tsvg > run.svg",
    )
    common.add_run_arguments(p)
    add_format_argument(p, ("json", "dot", "mermaid"), default="json",
                        extra={"dot": "Graphviz (dot -Tsvg)", "mermaid": "a Mermaid flowchart"})
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    dag = causal_dag(common.run_envelopes(args))
    text = {"json": dag.to_json, "dot": dag.to_dot, "mermaid": dag.to_mermaid}[args.format]()
    common.write_text(text, args.output)
    return 0
