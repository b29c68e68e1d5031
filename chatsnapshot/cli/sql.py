"""chatsnapshot sql: DuckDB SQL over the views envelopes, runs and dead_letters."""

from __future__ import annotations

import argparse
import sys

from chatsnapshot.cli import common
from chatsnapshot.cli.output import add_format_argument, arrow_rows, emit, write_csv
from chatsnapshot.ledger.querying import json_columns

EXAMPLE = "SELECT event_type, count(*) AS n FROM envelopes GROUP BY 1 ORDER BY n DESC"


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "sql", parents=[parent], help="run a DuckDB SQL query over the ledger",
        description="Run a DuckDB query over the views 'envelopes' (one row per envelope, every field) and "
                    "'runs' (one row per correlation).",
        epilog=f'example: chatsnapshot sql "{EXAMPLE}"',
    )
    p.add_argument("query", metavar="QUERY", help="the SQL; '-' reads it from stdin")
    add_format_argument(p, ("table", "json", "jsonl", "csv"))
    common.add_server_argument(p, "ask a running receiver (chatsnapshot serve); it runs only reading statements "
                                  "(SELECT, DESCRIBE, SHOW, SUMMARIZE) over its own ledger")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import duckdb

    query = sys.stdin.read() if args.query == "-" else args.query
    if args.server:
        with common.connect(args) as client:
            table, json_names = common.remote(lambda: client.sql(query), args.server)
    else:
        with common.open_readers(args) as ledger:
            try:
                table = ledger.sql(query)
            except duckdb.Error as e:
                raise common.UserError(f"SQL error: {common.database_message(e)}") from e
            json_names = json_columns(ledger.sql, query)
    if args.format == "csv":
        write_csv(table)
    else:
        names, rows = arrow_rows(table, json_names)
        emit(args.format, names, rows)
    return 0

