"""What a query's result columns are, beyond what Arrow says of them."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

__all__ = ["json_columns"]


def json_columns(sql: Callable[[str], pa.Table], query: str) -> frozenset[str]:
    """The result columns of ``query`` that DuckDB types JSON (Arrow carries them as text), asked
    through ``sql`` (a reader's ``sql`` or ``sql_confined``): so JSON values can stay JSON."""
    import duckdb

    try:
        described = sql(f"DESCRIBE {query}")
    except duckdb.Error:  # not a query DESCRIBE takes (PRAGMA, SET, ...): no JSON columns to know of
        return frozenset()
    return frozenset(n for n, t in zip(described.column("column_name").to_pylist(),
                                       described.column("column_type").to_pylist(), strict=True) if t == "JSON")
