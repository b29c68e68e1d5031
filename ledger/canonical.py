"""The canonical text of a JSON value, fast: what the chain hashes and every reader compares.

The canonical form is defined by the standard library's encoder (sorted keys, no
insignificant white space, non-ASCII kept as UTF-8, NaN and infinities refused,
``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
allow_nan=False)``), and it never changes: every hash in every ledger depends on
it. orjson writes the same bytes for a value made only of dicts with string
keys, lists, strings, booleans, null and 64-bit integers, five to ten times
faster; it writes floats differently (``1e-7`` where the standard library writes
``1e-07``) and reads integers beyond 64 bits as floats. So a value is written
with orjson only when a walk over it finds nothing else, and by the standard
library otherwise: the output is byte-identical either way (``tests/ledger/
test_canonical.py`` checks it on generated values and texts).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["canonical_text", "dumps"]

_SORTED = orjson.OPT_SORT_KEYS
_LOW, _HIGH = -(1 << 63), (1 << 64) - 1  # the integers orjson reads and writes as integers
_DEPTH = 128  # deeper values take the standard library's path (orjson's own limit is lower than json's)


def _plain(value: Any, depth: int = 0) -> bool:
    """True when orjson writes ``value`` exactly as the standard library does."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return _LOW <= value <= _HIGH
    if depth >= _DEPTH:
        return False
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return False
            if type(item) is not str and not _plain(item, depth + 1):  # strings, the common case, inline
                return False
        return True
    if kind is list:
        return all(type(item) is str or _plain(item, depth + 1) for item in value)
    return False  # floats, tuples, subclasses, anything orjson would write its own way


def dumps(value: Any) -> str:
    """The canonical text of ``value``. Raises ``TypeError`` or ``ValueError`` (as
    ``json.dumps`` does) for a value JSON cannot represent."""
    if _plain(value):
        return orjson.dumps(value, option=_SORTED).decode()
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_text(text: str) -> tuple[Any, str]:
    """``(value, canonical)`` for JSON ``text``: the value as ``json.loads`` reads it and
    its canonical text. Raises ``ValueError`` for text that is not JSON, ``TypeError``
    or ``ValueError`` for a value the canonical form refuses (NaN, infinities)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = None
    else:
        if _plain(value):
            return value, orjson.dumps(value, option=_SORTED).decode()
    value = json.loads(text)  # floats, big integers, surrogates, or not JSON: the standard library's reading
    return value, json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
