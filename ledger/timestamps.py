"""Timestamps: integer UTC nanoseconds inside, RFC 3339 with nanoseconds outside.

The JSON form always writes nine fractional digits and ``Z``
(``2026-11-24T17:35:00.123456789Z``); parsing accepts 0 to 9 fractional digits
and a ``Z`` or ``±HH:MM`` offset, and converts to UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

__all__ = ["MAX_NS", "format_rfc3339_ns", "parse_rfc3339_ns"]

MAX_NS = 2**63 - 1  # int64 nanoseconds: year 2262
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})\Z"
)


def format_rfc3339_ns(ns: int) -> str:
    """UTC nanoseconds since the epoch -> ``YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ``."""
    seconds, frac = divmod(ns, 1_000_000_000)
    stamp = (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{frac:09d}Z"


def parse_rfc3339_ns(text: str) -> int:
    """RFC 3339 text -> UTC nanoseconds since the epoch. Raises ValueError."""
    m = _RFC3339.match(text)
    if m is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r} (expected e.g. 2026-11-24T17:35:00.123456789Z)")
    day, clock, frac, zone = m.groups()
    offset = "+00:00" if zone in ("Z", "z") else zone
    whole = datetime.fromisoformat(f"{day}T{clock}{offset}")
    seconds = (whole - _EPOCH) // timedelta(seconds=1)
    return seconds * 1_000_000_000 + int((frac or "").ljust(9, "0"))
