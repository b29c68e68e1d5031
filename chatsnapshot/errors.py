"""The errors the ledger raises, by kind of failure.

Two families, as at every edge of this project: *permanent* errors (the input or
the request is wrong; retrying the same thing fails the same way) and
*retryable* errors (the store could not do it now; nothing was acknowledged, try
again later). Transports map them to wire codes only at the edge.
"""

from __future__ import annotations

__all__ = [
    "CorruptSegmentError",
    "EnvelopeError",
    "LedgerClosedError",
    "LedgerError",
    "LedgerFormatError",
    "LedgerLockedError",
    "ReadOnlyLedgerError",
    "StoreUnavailableError",
]


class LedgerError(Exception):
    """Base class of every error the ledger raises on purpose."""


class EnvelopeError(LedgerError, ValueError):
    """An envelope or fact is invalid. Permanent: fix the input.

    ``field`` names the offending field (dotted for nested ones) when known.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class LedgerLockedError(LedgerError):
    """Another process holds the writer lock of this ledger directory. Permanent
    while that process runs: stop it, or open the ledger read-only."""


class LedgerClosedError(LedgerError):
    """The ledger was closed; open it again."""


class ReadOnlyLedgerError(LedgerError):
    """A write was attempted on a ledger opened read-only."""


class LedgerFormatError(LedgerError):
    """The directory is not a ledger this version can read (unknown format
    version, unreadable manifest). Permanent: nothing is modified."""


class StoreUnavailableError(LedgerError):
    """Retryable: the store could not make the envelopes durable (disk full, I/O
    error, closing). Nothing in the failed call was acknowledged; the same
    envelopes can be appended again (idempotently)."""


class CorruptSegmentError(LedgerError):
    """A sealed segment could not be read back (checksum or structure). Reads of
    other segments are unaffected; ``chatsnapshot verify`` names what it held."""
