"""chatsnapshot sql: DuckDB SQL over the views envelopes, runs and dead_letters."""

from __future__ import annotations

import argparse
import sys

from chatsnapshot.cli import common
from chatsnapshot.cli.output import add_format_argument, arrow_rows, emit, write_csv
from chatsnapshot.ledger import LedgerReader, LedgerUnion

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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import duckdb

    query = sys.stdin.read() if args.query == "-" else args.query
    with common.open_readers(args) as ledger:
        try:
            table = ledger.sql(query)
        except duckdb.Error as e:
            raise common.UserError(f"SQL error: {common.database_message(e)}") from e
        json_columns = _json_columns(ledger, query)
    if args.format == "csv":
        write_csv(table)
    else:
        names, rows = arrow_rows(table, json_columns)
        emit(args.format, names, rows)
    return 0


def _json_columns(ledger: LedgerReader | LedgerUnion, query: str) -> frozenset[str]:
    """The result columns DuckDB types JSON (they arrive as text): JSON values stay JSON."""
    import duckdb

    try:
        described = ledger.sql(f"DESCRIBE {query}")
    except duckdb.Error:  # not a query DESCRIBE takes (PRAGMA, SET, ...): no JSON columns to know of
        return frozenset()
    return frozenset(n for n, t in zip(described.column("column_name").to_pylist(),
                                       described.column("column_type").to_pylist(), strict=True) if t == "JSON")


