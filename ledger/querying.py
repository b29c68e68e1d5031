"""What a query's result columns are, beyond what Arrow says of them, and the confined query that
remote callers (``sql --server``, the web UI) run."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import pyarrow as pa

__all__ = ["ConfinedReader", "confined_query", "json_columns"]


class ConfinedReader(Protocol):
    def sql_confined(self, query: str, timeout: float | None = None) -> pa.Table: ...


def json_columns(sql: Callable[[str], pa.Table], query: str) -> frozenset[str]:
    """The result columns of ``query`` (of its last statement) that DuckDB types JSON (Arrow carries
    them as text), asked through ``sql`` (a reader's ``sql`` or ``sql_confined``): so JSON values
    can stay JSON."""
    import duckdb

    try:
        statements = duckdb.extract_statements(query)
        if not statements:
            return frozenset()
        described = sql(f"DESCRIBE {statements[-1].query}")
        names, types = described.column("column_name").to_pylist(), described.column("column_type").to_pylist()
    except (duckdb.Error, KeyError):  # not a query DESCRIBE takes (PRAGMA, SET, ...): no JSON columns to know of
        return frozenset()
    return frozenset(n for n, t in zip(names, types, strict=True) if t == "JSON")


def confined_query(reader: ConfinedReader, query: str, timeout: float) -> tuple[pa.Table, frozenset[str]]:
    """``reader.sql_confined(query)`` and its JSON columns, both within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    table = reader.sql_confined(query, timeout)
    left = max(deadline - time.monotonic(), 0.1)
    return table, json_columns(lambda q: reader.sql_confined(q, left), query)
