"""The transport-independent core of the receiver: decode, promote, admit, commit, answer.

``Ingest.export(signal, body, content_type)`` is called by the gRPC and HTTP
handlers with the request's (decompressed) bytes and returns an ``Outcome``
only once every envelope of the request is durable (contract 1). Failures are
the errors of ``chatsnapshot.errors``, which the transports answer through
``receiver.status``: ``BadRequest`` (not an OTLP request), ``Overloaded`` (the
ingest queue is full, or a promotion worker was lost), and the ledger's
retryable errors (``StoreUnavailableError``; ``LedgerClosedError`` while
shutting down). On a retryable error nothing of the request was acknowledged;
the client re-sends it and idempotency makes that safe.

Backpressure: the queue is a budget of envelopes admitted and not yet
committed (``max_pending``). A request that does not fit waits up to
``admit_timeout`` seconds, then is refused with ``Overloaded``: the client backs
off as RetryInfo says, rather than piling more threads on a slow disk. (grpcio's
``maximum_concurrent_rpcs`` is not used: it answers RESOURCE_EXHAUSTED without
RetryInfo, and collectors drop data on that.)
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from chatsnapshot.errors import Overloaded, RetryableError
from chatsnapshot.ledger.store import Store
from chatsnapshot.receiver.committing import commit
from chatsnapshot.receiver.decoding import decode
from chatsnapshot.receiver.forwarding import Forwarder
from chatsnapshot.receiver.metrics import Metrics
from chatsnapshot.receiver.otlp import Signal
from chatsnapshot.receiver.promotion import Promotion
from chatsnapshot.receiver.span_rules import Rules
from chatsnapshot.receiver.workers import PromotionPool, promote_request

__all__ = ["Ingest", "Outcome"]

log = logging.getLogger("chatsnapshot.receiver")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a successful export answers: ``rejected`` facts (OTLP partial_success)."""

    committed: int = 0
    duplicates: int = 0
    rejected: int = 0
    message: str = ""


class _Budget:
    """Envelopes admitted and not yet committed, bounded."""

    def __init__(self, capacity: int, metrics: Metrics) -> None:
        self.capacity = capacity
        self._used = 0
        self._cond = threading.Condition()
        self._metrics = metrics
        metrics.queue_capacity = capacity

    def acquire(self, n: int, timeout: float) -> bool:
        n = min(n, self.capacity)  # a request larger than the whole queue goes alone
        with self._cond:
            if not self._cond.wait_for(lambda: self._used + n <= self.capacity, timeout):
                return False
            self._used += n
            self._metrics.queue_depth = self._used
            return True

    def release(self, n: int) -> None:
        with self._cond:
            self._used -= min(n, self.capacity)
            self._metrics.queue_depth = self._used
            self._cond.notify_all()


class Ingest:
    """Turns OTLP export requests into committed envelopes. Thread-safe."""

    def __init__(self, ledger: Store, *, metrics: Metrics | None = None, rules: Rules | None = None,
                 max_pending: int = 65_536, admit_timeout: float = 0.5, retry_after: float = 1.0,
                 forwarder: Forwarder | None = None, pool: PromotionPool | None = None) -> None:
        self.ledger = ledger
        self.forwarder = forwarder
        self.pool = pool
        self.metrics = metrics or Metrics()
        self.rules = rules
        self.retry_after = retry_after
        self._admit_timeout = admit_timeout
        self._budget = _Budget(max_pending, self.metrics)

    def export(self, signal: Signal, body: bytes, content_type: str = "application/x-protobuf") -> Outcome:
        """Commit the facts of one request; see the module docstring for the errors."""
        if self.pool is not None and signal != "metrics":
            promotion = self.pool.promote(signal, body, content_type)  # WorkerLost: retryable, answered as such
        else:
            promotion = promote_request(signal, body, content_type, self.rules)
        outcome = self.commit(promotion)
        if self.forwarder is not None:
            protobuf = content_type.split(";")[0].strip().lower() == "application/x-protobuf"
            self.forwarder.submit(signal, body if protobuf else decode(signal, body, content_type).request
                                  .SerializeToString())
        return outcome

    def commit(self, promotion: Promotion) -> Outcome:
        """Admit, dead-letter the rejections, append the envelopes, durably."""
        n = len(promotion.envelopes) + len(promotion.rejected)
        if not n:
            return Outcome()
        if not self._budget.acquire(n, self._admit_timeout):
            raise Overloaded(f"ingest queue full ({self._budget.capacity} envelopes pending); retry later",
                             self.retry_after)
        started = time.monotonic()
        try:
            committed = commit(self.ledger, promotion)
        except RetryableError as e:  # the disk refused, or the ledger closed: the receiver is shutting down
            log.warning("store unavailable, asking clients to retry: %s", e)
            raise
        finally:
            self._budget.release(n)
        self.metrics.observe_commit(time.monotonic() - started)
        rejected = committed.rejected
        self.metrics.add("envelopes_committed", committed.stored)
        self.metrics.add("duplicates", committed.duplicates)
        self.metrics.add("rejected", len(rejected))
        self.metrics.add("dead_lettered", len(rejected))
        message = ""
        if rejected:
            first = rejected[0]
            message = (f"{len(rejected)} fact(s) rejected and kept in the dead_letters table; "
                       f"first: {first.reason}")
        return Outcome(committed.stored, committed.duplicates, len(rejected), message)

