"""Rendering for the command line: aligned tables, JSON Lines, CSV."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import decimal
import json
import shutil
import sys
import uuid
from collections.abc import Sequence
from typing import Any, TextIO

import pyarrow as pa

from chatsnapshot.ledger.timestamps import format_rfc3339_ns

__all__ = [
    "FORMATS", "add_format_argument", "arrow_rows", "emit", "json_default", "print_table", "shorten", "write_csv",
    "write_jsonl",
]

# The one --format grammar: the same word means the same thing in every command that takes it.
FORMATS = {
    "table": "aligned columns for people",
    "json": "one JSON document",
    "jsonl": "one JSON object per line",
    "csv": "RFC 4180 CSV, a header row, LF line endings (NULL is an empty field)",
}

TABLE_ROW_LIMIT = 1000


def json_default(value: Any) -> Any:
    """JSON for the values DuckDB and pyarrow hand back."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def add_format_argument(p: Any, choices: Sequence[str], *, default: str = "table",
                        aliases: dict[str, str] | None = None, extra: dict[str, str] | None = None) -> None:
    """``--format`` with ``choices`` from ``FORMATS`` (and ``extra``: formats of this command alone, such as
    dag's dot), each explained the same way everywhere; ``aliases``: older words still accepted."""
    import argparse

    meaning = {**FORMATS, **(extra or {})}
    names = aliases or {}

    def parse(text: str) -> str:
        value = names.get(text, text)
        if value not in choices:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(choices)}")
        return value

    described = "; ".join(f"{c}: {meaning[c]}" + (" (default)" if c == default else "") for c in choices)
    p.add_argument("--format", type=parse, default=default, metavar="{" + ",".join(choices) + "}", help=described)


def emit(fmt: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, elastic: str | None = None,
         out: TextIO | None = None) -> None:
    """``rows`` (Python values: JSON stays JSON, None is null) as ``fmt`` of ``FORMATS``."""
    out = out or sys.stdout
    if fmt == "table":
        print_table(columns, rows, out, elastic=elastic)
    elif fmt == "jsonl":
        write_jsonl((dict(zip(columns, row, strict=True)) for row in rows), out)
    elif fmt == "json":
        json.dump([dict(zip(columns, row, strict=True)) for row in rows], out, ensure_ascii=False, indent=2,
                  default=json_default)
        out.write("\n")
    elif fmt == "csv":
        _write_csv_rows(columns, rows, out)
    else:
        raise ValueError(f"unknown format {fmt!r}")


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"  # the SQL null: a string "null" prints as null
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=json_default)
    return str(value)


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], out: TextIO | None = None,
                *, elastic: str | None = None) -> None:
    """Aligned columns. ``elastic`` names the column that is cut to fit the terminal."""
    out = out or sys.stdout
    cells = [[_cell(v).replace("\n", " ") for v in row] for row in rows[:TABLE_ROW_LIMIT]]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    if elastic is not None and out.isatty():
        k = list(columns).index(elastic)
        room = shutil.get_terminal_size().columns - (sum(widths) - widths[k]) - 2 * (len(columns) - 1)
        widths[k] = max(min(widths[k], room), len(elastic))
    line = "  ".join
    out.write(line(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n")
    for r in cells:
        out.write(line(shorten(v, w).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() + "\n")
    if len(rows) > TABLE_ROW_LIMIT:
        out.write(f"… {len(rows) - TABLE_ROW_LIMIT} more rows (use --format jsonl or csv for all of them)\n")


def write_jsonl(objects: Any, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    for obj in objects:
        out.write(json.dumps(obj, ensure_ascii=False, default=json_default) + "\n")


def arrow_rows(table: pa.Table, json_columns: frozenset[str] = frozenset()) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and Python rows; timestamps become RFC 3339 text in UTC with
    nanoseconds (Python datetimes would drop them), JSON columns (Arrow's JSON type, or
    text columns named in ``json_columns``: DuckDB hands JSON over as text) are parsed,
    maps become objects."""
    columns = []
    values: list[Any]
    for field, col in zip(table.schema, table.columns, strict=True):
        if pa.types.is_timestamp(field.type):
            ns = col.cast(pa.timestamp("ns", tz=field.type.tz)).cast(pa.int64()).to_pylist()
            values = [None if v is None else format_rfc3339_ns(v) for v in ns]
        elif pa.types.is_map(field.type):
            values = [None if v is None else dict(v) for v in col.to_pylist()]
        elif isinstance(field.type, pa.JsonType) or (field.name in json_columns and pa.types.is_string(field.type)):
            values = [None if v is None else json.loads(v) for v in col.cast(pa.string()).to_pylist()]
        else:
            values = col.to_pylist()
        columns.append(values)
    return table.column_names, list(zip(*columns, strict=True))


def write_csv(table: pa.Table, out: TextIO | None = None) -> None:
    names, rows = arrow_rows(table)
    _write_csv_rows(names, rows, out or sys.stdout)


def _write_csv_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], out: TextIO) -> None:
    w = csv.writer(out, lineterminator="\n")  # LF: `tail -1`, `grep -x` and friends see whole lines
    w.writerow(columns)
    for row in rows:
        w.writerow(["" if v is None else json.dumps(v, ensure_ascii=False, default=json_default)
                    if isinstance(v, dict | list) else v for v in row])
