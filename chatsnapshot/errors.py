"""Every error ChatSnapshot raises on purpose, in one taxonomy.

Two roots, as in the OpenTelemetry Collector's ``consumererror``: a
``PermanentError`` means the input or the request is wrong, so retrying the
same thing fails the same way; a ``RetryableError`` means it could not be done
now, nothing was acknowledged, and the same thing can be sent again later
(idempotency makes that safe). Every class below sits under exactly one root;
``LedgerError`` is a second, orthogonal base that says *where* an error comes
from (the store), so ``except LedgerError`` still catches every store error::

    ChatSnapshotError
    ├── PermanentError
    │   ├── EnvelopeError            (also LedgerError, ValueError)  an envelope or fact is invalid
    │   ├── LedgerNotFoundError      (also LedgerError)  no ledger at that path
    │   ├── LedgerFormatError        (also LedgerError)  not a ledger this version reads
    │   ├── LedgerLockedError        (also LedgerError)  another process writes the directory
    │   ├── CorruptSegmentError      (also LedgerError)  a sealed segment cannot be read back
    │   ├── CheckpointError          (also LedgerError)  a checkpoint, key or proof is unreadable or does not verify
    │   ├── ErasureError             (also LedgerError)  an erasure that cannot be done as asked
    │   ├── RoutingError             (also LedgerError)  a run found in two ledgers read as one
    │   ├── QueryRefusedError        (also LedgerError)  SQL a confined connection does not run (it writes)
    │   ├── BadRequest               (also ValueError)   not a valid OTLP request
    │   │   └── UnsupportedContentType                   neither protobuf nor OTLP/JSON
    │   ├── RequestTooLarge                              over the size limit (also after gzip)
    │   ├── Unauthenticated                              missing or wrong bearer token
    │   └── DeliveryRefused                              the receiver refused a spooled request for good
    └── RetryableError               (``retry_after``: seconds, or None for "use your backoff")
        ├── StoreUnavailableError    (also LedgerError)  the disk refused; nothing acknowledged
        ├── LedgerClosedError        (also LedgerError)  the handle was closed (shutting down)
        ├── Overloaded                                   the ingest queue is full
        ├── DeadlineExpired                              the client's deadline passed: not started, or not committed
        ├── WorkerLost                                   a promotion worker died mid-request
        └── DeliveryFailed                               a spooled request could not be delivered yet

The receiver maps these to gRPC codes and HTTP statuses in one table
(``chatsnapshot.receiver.status``), only at the edge where data comes in.
"""

from __future__ import annotations

__all__ = [
    "BadRequest",
    "ChatSnapshotError",
    "CheckpointError",
    "CorruptSegmentError",
    "DeadlineExpired",
    "DeliveryFailed",
    "DeliveryRefused",
    "EnvelopeError",
    "ErasureError",
    "LedgerClosedError",
    "LedgerError",
    "LedgerFormatError",
    "LedgerLockedError",
    "LedgerNotFoundError",
    "Overloaded",
    "PermanentError",
    "QueryRefusedError",
    "RequestTooLarge",
    "RetryableError",
    "RoutingError",
    "StoreUnavailableError",
    "Unauthenticated",
    "UnsupportedContentType",
    "WorkerLost",
]


class ChatSnapshotError(Exception):
    """Base of every error ChatSnapshot raises on purpose."""


class PermanentError(ChatSnapshotError):
    """Retrying the same input fails the same way: fix the input or the request."""


class RetryableError(ChatSnapshotError):
    """Nothing was acknowledged; the same thing can be sent again after ``retry_after``
    seconds (``None``: the caller's own backoff decides)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# -- the store -----------------------------------------------------------------------


class LedgerError(ChatSnapshotError):
    """Raised by the ledger. Every concrete subclass is also permanent or retryable."""


class EnvelopeError(LedgerError, PermanentError, ValueError):
    """An envelope or fact is invalid. Permanent: fix the input.

    ``field`` names the offending field (dotted for nested ones) when known.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class LedgerNotFoundError(LedgerError, PermanentError):
    """There is no ledger at the path given (a read-only open never creates one)."""


class LedgerFormatError(LedgerError, PermanentError):
    """The directory is not a ledger this version can read (unknown format
    version, unreadable manifest). Permanent: nothing is modified."""


class LedgerLockedError(LedgerError, PermanentError):
    """Another process holds the writer lock of this ledger directory. Permanent
    while that process runs: stop it, or open the ledger read-only."""


class CorruptSegmentError(LedgerError, PermanentError):
    """A sealed segment could not be read back (checksum or structure). Reads of
    other segments are unaffected; ``chatsnapshot verify`` names what it held."""


class CheckpointError(LedgerError, PermanentError):
    """A checkpoint, a key or an inclusion proof is unreadable, or does not verify: the
    message says which and why."""


class ErasureError(LedgerError, PermanentError):
    """An erasure that cannot be done as asked (a predicate that is not SQL, payloads
    written before ledger format 2): the message says why; nothing was erased."""


class RoutingError(LedgerError, PermanentError):
    """Ledgers read together (``ledger.union``) hold parts of the same run: the router in
    front of their receivers split it. Never merged: read each ledger alone."""


class QueryRefusedError(LedgerError, PermanentError):
    """SQL sent to a confined connection (``chatsnapshot sql --server``) that would write,
    change a setting or read outside the ledger: send a SELECT (or DESCRIBE, SHOW, SUMMARIZE)
    over the views, or run the query on the ledger's machine."""


class StoreUnavailableError(LedgerError, RetryableError):
    """The store could not make the envelopes durable (disk full, I/O error,
    backpressure). Nothing in the failed call was acknowledged; the same
    envelopes can be appended again (idempotently)."""


class LedgerClosedError(LedgerError, RetryableError):
    """The ledger handle was closed (its process is shutting down). Nothing in
    the call was acknowledged: open the ledger again, or retry against the
    restarted receiver."""


# -- the receiver's edge -------------------------------------------------------------


class BadRequest(PermanentError, ValueError):
    """The request is not a valid OTLP request. Permanent: the sender must fix it."""


class UnsupportedContentType(BadRequest):
    """The request's content type is neither OTLP protobuf nor OTLP/JSON."""


class RequestTooLarge(PermanentError):
    """The request is larger than the receiver's limit, as sent or once decompressed."""


class Unauthenticated(PermanentError):
    """The request carries no bearer token, or a wrong one."""


class Overloaded(RetryableError):
    """The ingest queue is full: back off as ``retry_after`` says."""


class DeadlineExpired(RetryableError):
    """The request's deadline passed (or would have, before its turn): it was not started, or
    nothing of it was committed. The client has given up on it; a retry is a new request."""


class WorkerLost(RetryableError):
    """A promotion worker process died while handling the request; nothing was committed."""


# -- the spool's sender --------------------------------------------------------------


class DeliveryFailed(RetryableError):
    """A spooled request could not be delivered now (receiver away, overloaded, ...)."""


class DeliveryRefused(PermanentError):
    """The receiver refused a spooled request for good; it is set aside in ``rejected/``."""
