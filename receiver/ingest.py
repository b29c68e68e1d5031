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

Admission comes first (``admit``), before the body is read: the bytes of
requests in flight are bounded (``max_pending_bytes``; a gRPC body, whose size
is not known before it is read, counts as the running average until it is,
``Ticket.resize``), and a request that cannot be admitted in time gets
``Overloaded`` with a retry delay that grows with the backlog. The work ahead
is bounded in time too: past ``max_queue_delay`` seconds of it (the bytes
admitted ahead at the rate measured over busy time), a request is refused at
once with that wait as its retry delay, so that under any overload a request
waits at most about ``max_queue_delay`` inside the receiver, not until its
deadline (the first ``_PIPELINE`` requests in flight are admitted past it: they
keep the workers and the writer busy). A request whose deadline (gRPC) has passed is not started,
nor one whose turn would come after it, and one whose deadline passes before
its commit is not committed (``DeadlineExpired``). Refused, a body is never read.
Admitted, at most ``_IN_PROGRESS`` requests are promoted or committed at once; the
others wait their turn holding only their bodies (promotions, several times their
request's size, do not pile up before the writer).

Backpressure: the queue is a budget of envelopes admitted and not yet
committed (``max_pending``). A request that does not fit waits up to
``admit_timeout`` seconds, then is refused with ``Overloaded``: the client backs
off as RetryInfo says, rather than piling more threads on a slow disk. (grpcio's
``maximum_concurrent_rpcs`` is not used: it answers RESOURCE_EXHAUSTED without
RetryInfo, and collectors drop data on that.)
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from chatsnapshot.errors import DeadlineExpired, Overloaded, RetryableError
from chatsnapshot.ledger.store import Store
from chatsnapshot.proto import attributes as A
from chatsnapshot.receiver.committing import commit
from chatsnapshot.receiver.decoding import decode
from chatsnapshot.receiver.forwarding import Forwarder
from chatsnapshot.receiver.metrics import Metrics
from chatsnapshot.receiver.otlp import Signal
from chatsnapshot.receiver.promotion import ATTRIBUTE_LIMIT, Promotion
from chatsnapshot.receiver.span_rules import Rules
from chatsnapshot.receiver.workers import PromotionPool, promote_request

__all__ = ["Ingest", "Outcome", "Ticket"]

log = logging.getLogger("chatsnapshot.receiver")


def _check_deadline(deadline: float | None, when: str) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        raise DeadlineExpired(f"the request's deadline passed {when}; nothing of it was committed")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a successful export answers: ``rejected`` facts (OTLP partial_success)."""

    committed: int = 0
    duplicates: int = 0
    rejected: int = 0
    message: str = ""


# Requests being promoted or committed at once; the others admitted wait with their bodies only.
# Enough to keep a worker and the writer busy, few enough that promotions (~4x their request in
# Python objects) do not pile up before the writer: 3x overload for 12 s, two A/B pairs, with the
# 1 MiB worker pipes: no bound 337-346 MiB peak; 6: 252-289 MiB, goodput 25.7-27.6k env/s
# (4: 21.1-26.5k; 64 KiB pipes, no bound: 268-297 MiB, 20.9-24.7k).
_IN_PROGRESS = 6
_PIPELINE = 4  # requests in flight admitted past max_queue_delay: what keeps the workers and the writer busy


class _Throughput:
    """Request bytes finished per second of busy time (idle time does not count), smoothed: what
    admission predicts a request's wait with."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rate = 0.0  # 0: not measured yet
        self._since = time.monotonic()
        self._bytes = 0
        self._in_flight = 0

    def started(self) -> None:
        with self._lock:
            if not self._in_flight:  # a busy period begins: measure from here
                self._since, self._bytes = time.monotonic(), 0
            self._in_flight += 1

    def done(self, n: int) -> None:
        with self._lock:
            self._in_flight -= 1
            self._bytes += n
            now = time.monotonic()
            elapsed = now - self._since
            if elapsed >= 0.25:
                current = self._bytes / elapsed
                self._rate = current if not self._rate else 0.7 * self._rate + 0.3 * current
                self._since, self._bytes = now, 0

    def wait(self, ahead: int) -> float | None:
        """Seconds until ``ahead`` bytes of work are done at the measured rate (None: not known yet)."""
        rate = self._rate
        return ahead / rate if rate else None


class _Sizes:
    """The running average size of requests: what a request whose size is not known yet (a gRPC
    body not read yet) is admitted as."""

    def __init__(self, initial: int = 256 << 10) -> None:
        self._average = float(initial)

    def observe(self, n: int) -> None:
        self._average = 0.9 * self._average + 0.1 * n  # a float update: no lock needed for an estimate

    def estimate(self) -> int:
        return int(self._average)


class Ticket:
    """Bytes of the in-flight budget held by one request, from before its body is read until it is
    answered: ``size`` is what it counts as, ``held`` what it took (less for a request larger than
    the whole budget, which goes alone). ``release`` is idempotent."""

    def __init__(self, ingest: Ingest, size: int, held: int, deadline: float | None) -> None:
        self._ingest, self.size, self.held, self.deadline = ingest, size, held, deadline
        self._open = True  # counted in ingest._tickets by admit

    def resize(self, size: int) -> None:
        """Count as ``size`` bytes instead (the body's real size): more is taken like any
        admission (raises ``Overloaded``), the excess is given back. What is held never passes
        the whole budget: a request larger than it goes alone."""
        target = min(size, self._ingest._bytes.capacity)
        if target > self.held:
            self.held += self._ingest._take(target - self.held, self.deadline)
        elif target < self.held:
            self._ingest._bytes.release(self.held - target)
            self.held = target
        self.size = size

    def release(self) -> None:
        if self._open:
            self._open = False
            self._ingest._tickets.add(-1)
        if self.held:
            self._ingest._bytes.release(self.held)
            self.held = 0


class _Count:
    """A thread-safe count (requests being admitted or admitted, not yet answered)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.admitted = 0

    def enter(self) -> int:
        """Count one more; returns how many were counted before it."""
        with self._lock:
            self.admitted += 1
            return self.admitted - 1

    def add(self, n: int) -> None:
        with self._lock:
            self.admitted += n


class _Budget:
    """Work admitted and not yet done (envelopes, or request bytes), bounded."""

    def __init__(self, capacity: int, metrics: Metrics | None = None) -> None:
        self.capacity = capacity
        self._used = 0
        self._cond = threading.Condition()
        self._metrics = metrics
        if metrics is not None:
            metrics.queue_capacity = capacity

    @property
    def backlog(self) -> float:
        """How full it is, 0..1."""
        return min(1.0, self._used / self.capacity)

    @property
    def used(self) -> int:
        return self._used

    def acquire(self, n: int, timeout: float) -> int | None:
        """Take ``n`` (at most the whole capacity: a request larger than the queue goes alone);
        returns what was taken, to be released, or None when it did not fit within ``timeout``."""
        n = min(n, self.capacity)
        with self._cond:
            if not self._cond.wait_for(lambda: self._used + n <= self.capacity, timeout):
                return None
            self._used += n
            if self._metrics is not None:
                self._metrics.queue_depth = self._used
            return n

    def release(self, n: int) -> None:
        """Give back what ``acquire`` returned."""
        with self._cond:
            self._used -= n
            if self._metrics is not None:
                self._metrics.queue_depth = self._used
            self._cond.notify_all()


class Ingest:
    """Turns OTLP export requests into committed envelopes. Thread-safe."""

    def __init__(self, ledger: Store, *, metrics: Metrics | None = None, rules: Rules | None = None,
                 max_pending: int = 65_536, max_pending_bytes: int = 64 << 20, admit_timeout: float = 0.5,
                 retry_after: float = 1.0, max_queue_delay: float = 0.5, forwarder: Forwarder | None = None,
                 pool: PromotionPool | None = None) -> None:
        self.ledger = ledger
        self.forwarder = forwarder
        self.pool = pool
        self.metrics = metrics or Metrics()
        self.rules = rules
        self.retry_after = retry_after
        if not max_queue_delay > 0:
            raise ValueError(f"max_queue_delay must be positive, got {max_queue_delay}")
        self.max_queue_delay = max_queue_delay
        self._admit_timeout = admit_timeout
        self._budget = _Budget(max_pending, self.metrics)
        self._bytes = _Budget(max_pending_bytes)  # taken before any decoding: what requests in flight hold
        self._throughput = _Throughput()
        self._sizes = _Sizes()
        self._tickets = _Count()
        self._in_progress = threading.BoundedSemaphore(_IN_PROGRESS)

    @property
    def bytes_in_flight(self) -> int:
        """Bytes of requests admitted and not yet answered (0 when idle: every ticket was given back)."""
        return self._bytes.used

    def admit(self, deadline: float | None = None, size: int | None = None) -> Ticket:
        """Admission, before the body is read: raises ``DeadlineExpired`` when ``deadline`` has
        passed, and ``Overloaded`` (with a retry delay) when the work ahead would take past it or
        (once ``_PIPELINE`` requests are in, counting those being admitted) past
        ``max_queue_delay``, or the bytes in flight leave no room in time; checked again after
        waiting for room. Nothing is refused for time before a rate is measured. Takes ``size``
        bytes, or, when the size is not known yet (gRPC), the running average of request sizes;
        ``Ticket.resize`` corrects it."""
        _check_deadline(deadline, "before it started")
        pipelining = self._tickets.enter() < _PIPELINE  # counted from here: concurrent arrivals see it
        held = 0
        try:
            self._refuse_if_late(deadline, self._bytes.used, pipelining)
            estimate = size if size is not None else self._sizes.estimate()
            held = self._take(estimate, deadline)
            # Waiting for room took time and others may have been admitted meanwhile: look again.
            self._refuse_if_late(deadline, self._bytes.used - held, pipelining)
        except BaseException:
            self._tickets.add(-1)
            if held:
                self._bytes.release(held)
            raise
        return Ticket(self, estimate, held, deadline)

    def _refuse_if_late(self, deadline: float | None, ahead: int, pipelining: bool) -> None:
        """Raise ``Overloaded`` when ``ahead`` bytes of work, at the measured rate, would take past
        ``deadline``, or (unless ``pipelining``) past ``max_queue_delay``. Before a rate is measured
        nothing is refused here."""
        turn = self._throughput.wait(ahead)  # when the work ahead would be done
        if turn is None:
            return
        if deadline is not None and time.monotonic() + turn > deadline:
            raise Overloaded(f"about {turn:.1f} s of requests are ahead of this one, more than its deadline "
                             "leaves; retry later", min(max(turn, self.retry_after), 9.0))
        if turn > self.max_queue_delay and not pipelining:
            raise Overloaded(f"about {turn:.1f} s of requests are ahead of this one (the receiver queues at most "
                             f"{self.max_queue_delay:g} s); retry later", min(max(turn, self.retry_after), 9.0))

    def _take(self, n: int, deadline: float | None) -> int:
        """Take ``n`` bytes of the in-flight budget (what was taken), or raise."""
        wait = self._admit_timeout if deadline is None else min(self._admit_timeout, deadline - time.monotonic())
        taken = self._bytes.acquire(n, max(wait, 0.0))
        if taken is None:
            _check_deadline(deadline, "waiting for admission")
            delay = min(self.retry_after * (1 + 4 * self._bytes.backlog), 9.0)  # grows with the backlog, < 10 s
            raise Overloaded(f"{self._bytes.capacity >> 20} MiB of requests in flight; retry later", delay)
        return taken

    def export(self, signal: Signal, body: bytes, content_type: str = "application/x-protobuf", *,
               deadline: float | None = None, ticket: Ticket | None = None) -> Outcome:
        """Commit the facts of one request; see the module docstring for the errors. ``deadline``
        (``time.monotonic()`` seconds): past it, the request is not started, and not committed.
        ``ticket``: the admission taken before the body was read (``admit``), else taken here."""
        ticket = ticket if ticket is not None else self.admit(deadline, len(body))
        try:
            ticket.resize(len(body))
        except BaseException:
            ticket.release()
            raise
        self._sizes.observe(len(body))
        self._throughput.started()
        turn = False  # whether it got a place: the bytes of one that did not are no work done
        try:
            with self._turn(ticket.deadline):
                turn = True
                if self.pool is not None and signal != "metrics":
                    promotion = self.pool.promote(signal, body, content_type)  # WorkerLost: retryable, answered as such
                else:
                    promotion = promote_request(signal, body, content_type, self.rules)
                _check_deadline(ticket.deadline, "before it was committed")
                outcome = self.commit(promotion)
        finally:
            ticket.release()
            self._throughput.done(len(body) if turn else 0)
        if self.forwarder is not None:
            protobuf = content_type.split(";")[0].strip().lower() == "application/x-protobuf"
            self.forwarder.submit(signal, body if protobuf else decode(signal, body, content_type).request
                                  .SerializeToString())
        return outcome

    @contextlib.contextmanager
    def _turn(self, deadline: float | None) -> Iterator[None]:
        """One of the ``_IN_PROGRESS`` places of requests being promoted or committed; raises
        ``DeadlineExpired`` when ``deadline`` passes first."""
        wait = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        if not self._in_progress.acquire(timeout=wait):
            raise DeadlineExpired("the client's deadline passed while the request waited for its turn; nothing "
                                  "was committed")
        try:
            _check_deadline(deadline, "while it waited for its turn")  # a place was free, the time was not
            yield
        finally:
            self._in_progress.release()

    def commit(self, promotion: Promotion) -> Outcome:
        """Admit, dead-letter the rejections, append the envelopes, durably."""
        n = len(promotion.envelopes) + len(promotion.rejected)
        if not n:
            return Outcome()
        taken = self._budget.acquire(n, self._admit_timeout)
        if taken is None:
            raise Overloaded(f"ingest queue full ({self._budget.capacity} envelopes pending); retry later",
                             self.retry_after)
        started = time.monotonic()
        try:
            committed = commit(self.ledger, promotion)
        except RetryableError as e:  # the disk refused, or the ledger closed: the receiver is shutting down
            log.warning("store unavailable, asking clients to retry: %s", e)
            raise
        finally:
            self._budget.release(taken)
        self.metrics.observe_commit(time.monotonic() - started)
        rejected = committed.rejected
        self.metrics.add("envelopes_committed", committed.stored)
        self.metrics.add("duplicates", committed.duplicates)
        self.metrics.add("rejected", len(rejected))
        self.metrics.add("dead_lettered", len(rejected))
        notes = []
        if rejected:
            notes.append(f"{len(rejected)} fact(s) rejected and kept in the dead_letters table; "
                         f"first: {rejected[0].reason}")
        if promotion.dropped_attributes:
            self.metrics.add("attributes_dropped", promotion.dropped_attributes)
            notes.append(f"{promotion.dropped_attributes} attribute(s) over the limit of {ATTRIBUTE_LIMIT} per span, "
                         f"event or log record were not read (the facts say how many: {A.DROPPED_ATTRIBUTES})")
        message = "; ".join(notes)
        return Outcome(committed.stored, committed.duplicates, len(rejected), message)

