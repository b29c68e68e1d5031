"""chatsnapshot sql: DuckDB SQL over the views envelopes, runs and dead_letters."""

from __future__ import annotations

import argparse
import sys

from chatsnapshot.cli import common
from chatsnapshot.cli.output import arrow_rows, print_table, write_csv, write_jsonl

EXAMPLE = "SELECT event_type, count(*) AS n FROM envelopes GROUP BY 1 ORDER BY n DESC"


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "sql", parents=[parent], help="run a DuckDB SQL query over the ledger",
        description="Run a DuckDB query over the views 'envelopes' (one row per envelope, every field) and "
                    "'runs' (one row per correlation).",
        epilog=f'example: chatsnapshot sql "{EXAMPLE}"',
    )
    p.add_argument("query", metavar="QUERY", help="the SQL; '-' reads it from stdin")
    p.add_argument("--format", choices=("table", "csv", "jsonl"), default="table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import duckdb

    query = sys.stdin.read() if args.query == "-" else args.query
    with common.open_readers(args) as ledger:
        try:
            table = ledger.sql(query)
        except duckdb.Error as e:
            raise common.UserError(f"SQL error: {str(e).splitlines()[0]}") from e
    if args.format == "csv":
        write_csv(table)
    else:
        names, rows = arrow_rows(table)
        if args.format == "jsonl":
            write_jsonl(dict(zip(names, row, strict=True)) for row in rows)
        else:
            print_table(names, rows)
    return 0
