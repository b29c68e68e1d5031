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

__all__ = ["arrow_rows", "json_default", "print_table", "shorten", "write_csv", "write_jsonl"]

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


def _cell(value: Any) -> str:
    if value is None:
        return "null"
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


def arrow_rows(table: pa.Table) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and Python rows; timestamps become RFC 3339 text in UTC with
    nanoseconds (Python datetimes would drop them), JSON columns are parsed,
    maps become objects."""
    columns = []
    values: list[Any]
    for field, col in zip(table.schema, table.columns, strict=True):
        if pa.types.is_timestamp(field.type):
            ns = col.cast(pa.timestamp("ns", tz=field.type.tz)).cast(pa.int64()).to_pylist()
            values = [None if v is None else format_rfc3339_ns(v) for v in ns]
        elif pa.types.is_map(field.type):
            values = [None if v is None else dict(v) for v in col.to_pylist()]
        elif isinstance(field.type, pa.JsonType):
            values = [None if v is None else json.loads(v) for v in col.cast(pa.string()).to_pylist()]
        else:
            values = col.to_pylist()
        columns.append(values)
    return table.column_names, list(zip(*columns, strict=True))


def write_csv(table: pa.Table, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    names, rows = arrow_rows(table)
    w = csv.writer(out)
    w.writerow(names)
    for row in rows:
        w.writerow(["" if v is None else json.dumps(v, default=json_default) if isinstance(v, dict | list)
                    else v for v in row])
