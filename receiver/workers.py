"""Decode and promote requests in worker processes, so the ledger's writer has a core to itself.

Promotion is pure CPU work in Python (protobuf access, JSON canonicalisation,
validation): about two thirds of the receiver's time per envelope. In one
process it shares the GIL with committing; in ``--workers N`` processes it runs
beside it. A worker returns each envelope as a flat tuple of validated values
(``to_wire``), which the receiver rebuilds without validating again
(``from_wire``): both ends run this same code.

Workers are started with ``spawn`` (a fork of a process running grpcio threads
is not safe).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from chatsnapshot.errors import WorkerLost
from chatsnapshot.ledger.envelope import SCHEMA_VERSION, Envelope, source_of
from chatsnapshot.ledger.results import Rejection
from chatsnapshot.receiver.decoding import decode
from chatsnapshot.receiver.memory import collect_for_a_server
from chatsnapshot.receiver.otlp import Signal
from chatsnapshot.receiver.promotion import Promotion, promote_logs, promote_traces
from chatsnapshot.receiver.span_rules import Rules

__all__ = ["PromotionPool", "promote_request", "widen_pipes"]

log = logging.getLogger("chatsnapshot.receiver")


Wire = tuple[Any, ...]

_rules: Rules | None = None  # set in each worker by _init


def promote_request(signal: Signal, body: bytes, content_type: str, rules: Rules | None) -> Promotion:
    """Decode and promote one request (raises ``BadRequest``). Metrics yield an empty promotion."""
    decoded = decode(signal, body, content_type)
    if signal == "traces":
        return promote_traces(decoded.request, rules=rules, replaced_utf8=decoded.replaced_utf8)
    if signal == "logs":
        return promote_logs(decoded.request, rules=rules, replaced_utf8=decoded.replaced_utf8)
    return Promotion()  # metrics: parsed (garbage is still INVALID_ARGUMENT), then discarded


def to_wire(e: Envelope) -> Wire:
    s = e.source
    return (e.event_id, e.event_type, e.correlation_id, e.occurred_at, s.origin, s.runtime, s.service, s.agent,
            e.payload_json, e.causation_id, e.trace_id, e.span_id, e.parent_span_id)


def from_wire(w: Wire) -> Envelope:
    return Envelope._trusted(w[0], w[1], w[2], w[3], source_of(*w[4:8]), w[8], w[9], w[10], w[11], w[12],
                             SCHEMA_VERSION, None, None, None, None, None, None, None)


def _init(rules: Rules | None, parent: int) -> None:
    global _rules
    _rules = rules
    _watch_parent(parent)
    collect_for_a_server()


_watching = False


def _watch_parent(parent: int) -> None:
    """Exit when the receiver (pid ``parent``) dies, even by SIGKILL: the worker is then
    re-parented. ``parent`` comes from the receiver itself, not from ``getppid()`` here, so a
    receiver killed while its workers were still starting leaves none behind."""
    global _watching
    if _watching:
        return
    _watching = True

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _work(signal: Signal, body: bytes, content_type: str) -> tuple[list[Wire], list[Rejection], int]:
    promotion = promote_request(signal, body, content_type, _rules)
    return [to_wire(e) for e in promotion.envelopes], promotion.rejected, promotion.dropped_attributes


PIPE_BYTES = 1 << 20  # Linux's limit for an unprivileged process (/proc/sys/fs/pipe-max-size)


def widen_pipes(pool: ProcessPoolExecutor) -> list[int]:
    """Give the pipes that carry requests to the workers and promotions back 1 MiB each
    rather than Linux's 64 KiB; returns their sizes now (empty where they cannot be
    reached; a size the system refuses stays, with a warning).

    A request of 512 spans is ~400 KB and its promotion ~600 KB: through a 64 KiB pipe, each
    crosses in a dozen writes and reads, and between them the thread doing it waits for the
    GIL behind the writer and the sealer. Measured with 16 clients, closed loop, two A/B
    pairs: 28.5k against 26.2k env/s, the receiver's own process at 77-79 % of a core against
    84 %, the worker busy 56-58 % against 50-54 % of the time. ``ProcessPoolExecutor`` keeps
    its pipes in ``_call_queue`` and ``_result_queue`` (CPython 3.8 and later); where those, or
    ``F_SETPIPE_SZ``, are missing, nothing is changed."""
    import fcntl

    setsize, getsize = getattr(fcntl, "F_SETPIPE_SZ", None), getattr(fcntl, "F_GETPIPE_SZ", None)
    queues = (getattr(pool, "_call_queue", None), getattr(pool, "_result_queue", None))
    writers = [getattr(q, "_writer", None) for q in queues]
    if setsize is None or getsize is None or not all(hasattr(w, "fileno") for w in writers):
        return []
    sizes = []
    for writer in writers:
        assert writer is not None
        try:
            fcntl.fcntl(writer.fileno(), setsize, PIPE_BYTES)
        except OSError as e:  # a lower limit on this machine: the default stays
            log.warning("cannot widen a promotion pipe to %d bytes (%s): promotion is slower", PIPE_BYTES, e)
        sizes.append(fcntl.fcntl(writer.fileno(), getsize))
    return sizes


class PromotionPool:
    """``workers`` processes promoting requests; ``promote`` blocks the calling thread only."""

    def __init__(self, workers: int, rules: Rules | None) -> None:
        self._workers, self._rules = workers, rules
        self._lock = threading.Lock()
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(max_workers=self._workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init, initargs=(self._rules, os.getpid()))
        pool.submit(os.getpid).result()  # start the workers (and their initializer) now, not on the first request
        widen_pipes(pool)
        return pool

    def promote(self, signal: Signal, body: bytes, content_type: str) -> Promotion:
        """Raises ``BadRequest``, or ``WorkerLost`` (retryable) when a worker died: the pool is rebuilt."""
        pool = self._pool
        try:
            wires, rejected, dropped = pool.submit(_work, signal, body, content_type).result()
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool:
                    log.error("a promotion worker died; starting new ones")
                    self._pool = self._start()
            raise WorkerLost("a promotion worker died; retry") from None
        return Promotion([from_wire(w) for w in wires], rejected, dropped)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
