"""Decode and promote requests in worker processes, so the ledger's writer has a core to itself.

Promotion is pure CPU work in Python (protobuf access, JSON canonicalisation,
validation): about two thirds of the receiver's time per envelope. In one
process it shares the GIL with committing; in ``--workers N`` processes it runs
beside it. A worker returns each envelope as a flat tuple of validated values
(``to_wire``), which the receiver rebuilds without validating again
(``from_wire``): both ends run this same code.

Each worker is a process of its own, ``python -c`` started by the receiver's
Python with its ends of two pipes, one for requests and one for replies (not a
fork: forking a process that runs grpcio threads is not safe; and not
``multiprocessing``'s spawn, which also starts a resource-tracker process, 13 MiB
that a worker with two pipes has no use for). The thread handling a request
writes it into the pipe itself and, when the replies before its own have been
read, reads its own: nothing else runs between a request and its worker. (``ProcessPoolExecutor``, used before, hands
each request to a manager thread and a feeder thread and each result back
through the manager, every hop a wait for the GIL, and its pipes could be
widened only through its private attributes. With 4 clients, closed loop, four
A/B pairs: 32.5k against 30.7k env/s, the receiver's process 30.2 against
31.3 µs of CPU per envelope: a gain within this machine's noise.)

A worker ends when its requests pipe does: when the receiver closes it, and
when the receiver dies in any way, SIGKILL and start-up included (no other
process holds a copy of its writing end).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing.spawn
import os
import pickle
import signal as signals
import subprocess
import sys
import threading
import time
import traceback
from collections import deque
from multiprocessing.connection import Connection
from typing import Any

from chatsnapshot.errors import WorkerLost
from chatsnapshot.ledger.envelope import SCHEMA_VERSION, Envelope, source_of
from chatsnapshot.ledger.results import Rejection
from chatsnapshot.receiver.decoding import decode
from chatsnapshot.receiver.memory import collect_for_a_server
from chatsnapshot.receiver.otlp import Signal
from chatsnapshot.receiver.promotion import Promotion, promote_logs, promote_traces
from chatsnapshot.receiver.span_rules import Rules

__all__ = ["PromotionPool", "promote_request"]

log = logging.getLogger("chatsnapshot.receiver")


Wire = tuple[Any, ...]


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


PIPE_BYTES = 1 << 20  # Linux's limit for an unprivileged process (/proc/sys/fs/pipe-max-size)
START_TIMEOUT = 60.0  # seconds a new worker has to import and say it is ready
_DIED = "a promotion worker died; retry"

# What a worker answers each request with: the error it raised and its traceback (or None), then
# the promotion's parts.
Reply = tuple[tuple[BaseException, str] | None, list[Wire], list[Rejection], int]


# A worker's program: the receiver's module path, then its entry point; argv: its requests fd, its
# replies fd, that path. The working directory is left out: the receiver had its modules loaded
# before its working directory could matter, a new worker would look there first.
_WORKER = ("import os, sys; sys.path[:] = sys.argv[3].split(os.pathsep); "
           "from chatsnapshot.receiver.workers import _main; _main()")


def _spawn(rules: Rules | None) -> tuple[subprocess.Popen[bytes], Connection, Connection]:
    """Start a worker process with its ends of two new pipes; returns it, the pipe its requests
    are written to, and the pipe its replies are read from. The rules go as the first message."""
    requests_in, requests_out = os.pipe()
    replies_in, replies_out = os.pipe()
    executable = multiprocessing.spawn.get_executable()  # sys.executable, or multiprocessing.set_executable's
    try:
        process = subprocess.Popen([executable, "-c", _WORKER, str(requests_in), str(replies_out),
                                    os.pathsep.join(os.path.abspath(p) for p in sys.path if p not in ("", "."))],
                                   pass_fds=(requests_in, replies_out), stdin=subprocess.DEVNULL)
    except BaseException as e:
        os.close(requests_out)
        os.close(replies_in)
        if isinstance(e, OSError):
            raise WorkerLost(f"cannot start a promotion worker with {executable!r} ({e}); "
                             "or run the receiver with --workers 0") from None
        raise
    finally:  # so that the worker's end of each pipe ends with the worker, or with us
        os.close(requests_in)
        os.close(replies_out)
    requests, replies = Connection(requests_out, readable=False), Connection(replies_in, writable=False)
    _widen_pipes(requests, replies)  # before anything is written into them
    with contextlib.suppress(OSError):  # it is gone already: found when it does not say it is ready
        requests.send(rules)
    return process, requests, replies


def _main() -> None:
    """A worker process's entry point (``_WORKER``)."""
    _serve(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False))


def _serve(requests: Connection, replies: Connection) -> None:
    """A worker's life: read its rules, say it is ready, then promote each request read from
    ``requests`` and answer on ``replies``, in order, until ``requests`` ends. It ends when the
    receiver closes it, and when the receiver dies in any way (SIGKILL included, during start-up
    too): this process holds no other copy of its writing end. SIGINT and SIGTERM are the
    receiver's to handle (a terminal, and a service manager, send them to the whole process
    group): it closes the pipe when it is done."""
    signals.signal(signals.SIGINT, signals.SIG_IGN)
    signals.signal(signals.SIGTERM, signals.SIG_IGN)
    try:
        rules: Rules | None = requests.recv()
        collect_for_a_server()
        replies.send(None)  # ready
        while True:
            signal, body, content_type = requests.recv()
            reply: Reply
            try:
                promotion = promote_request(signal, body, content_type, rules)
                reply = (None, [to_wire(e) for e in promotion.envelopes], promotion.rejected,
                         promotion.dropped_attributes)
            except Exception as e:  # BadRequest, or a bug: the receiver answers for it
                reply = ((e, traceback.format_exc()), [], [], 0)
            try:
                replies.send(reply)
            except (pickle.PicklingError, TypeError, AttributeError) as e:  # something in it does not pickle
                what = f"{type(reply[0][0]).__name__}: {reply[0][0]}" if reply[0] else "its promotion"
                replies.send(((RuntimeError(f"the promotion worker could not send back {what} ({e})"),
                               traceback.format_exc()), [], [], 0))
    except (EOFError, OSError):  # the requests ended (whole, or cut short by the receiver's death)
        return


def _widen_pipes(*connections: Connection) -> list[int]:
    """Give the pipes under ``connections`` 1 MiB each rather than Linux's 64 KiB; returns their
    sizes now (empty without ``F_SETPIPE_SZ``; a size the system refuses stays, with a warning).

    A request of 512 spans is ~400 KB and its promotion ~600 KB: through a 64 KiB pipe, each
    crosses in a dozen writes and reads, and between them the thread doing it waits for the
    GIL behind the writer and the sealer. Measured with 16 clients, closed loop, two A/B
    pairs: 28.5k against 26.2k env/s, the receiver's own process at 77-79 % of a core against
    84 %, the worker busy 56-58 % against 50-54 % of the time."""
    import fcntl

    setsize, getsize = getattr(fcntl, "F_SETPIPE_SZ", None), getattr(fcntl, "F_GETPIPE_SZ", None)
    if setsize is None or getsize is None:
        return []
    sizes = []
    for connection in connections:
        try:
            fcntl.fcntl(connection.fileno(), setsize, PIPE_BYTES)
        except OSError as e:  # a lower limit on this machine: the default stays
            log.warning("cannot widen a promotion pipe to %d bytes (%s): promotion is slower", PIPE_BYTES, e)
        sizes.append(fcntl.fcntl(connection.fileno(), getsize))
    return sizes


class _Worker:
    """One worker process and its two pipes. Requests are written straight into the worker's pipe
    by the thread that has them, and each reads its own reply when its turn comes (replies come
    back in the order requests went in): no thread between a request and its worker.

    ``lost``: no request goes to it any more (it died, it is closing, or its pipes are out of
    step). A caller that leaves without having read its whole reply, for any reason, leaves the
    replies out of step: the worker is then *broken* (killed; whoever waits gets ``WorkerLost``
    rather than another's reply)."""

    def __init__(self, rules: Rules | None) -> None:
        self._send = threading.Lock()  # one request written at a time
        self._order = threading.Lock()  # guards _turns
        self._turns: deque[threading.Lock] = deque()  # each held until it is that caller's turn to read
        self.lost = False
        self._broken = False
        self.process, self._requests, self._replies = _spawn(rules)
        try:
            if not self._replies.poll(START_TIMEOUT):
                raise WorkerLost(f"a promotion worker did not start within {START_TIMEOUT:g} s")
            self._replies.recv()
        except (EOFError, OSError) as e:
            self.close(timeout=0)
            raise WorkerLost(f"a promotion worker exited while starting ({str(e) or type(e).__name__}; exit code "
                             f"{self.process.returncode}); its error is on the receiver's standard error") from None
        except BaseException:
            self.close(timeout=0)
            raise

    @property
    def outstanding(self) -> int:
        """Requests queued on this worker: being sent, promoted, or waiting for their reply to be read."""
        return len(self._turns)

    def call(self, request: tuple[Signal, bytes, str]) -> Reply:
        """Send ``request`` and wait for its reply; raises ``WorkerLost`` when the worker is gone."""
        turn = threading.Lock()
        turn.acquire()
        queued = answered = False
        try:
            with self._send:
                if self.lost:
                    raise WorkerLost(_DIED)
                with self._order:
                    self._turns.append(turn)
                    queued = True
                    if len(self._turns) == 1:
                        turn.release()
                try:
                    self._requests.send(request)
                except OSError:  # EPIPE: the worker is gone
                    raise WorkerLost(_DIED) from None
            turn.acquire()  # the replies before this one have been read
            if self._broken:
                raise WorkerLost(_DIED)
            try:
                reply: Reply = self._replies.recv()
            except (EOFError, OSError):
                raise WorkerLost(_DIED) from None
            answered = True
            return reply
        finally:
            if queued:
                if not answered:
                    self._break()
                with self._order:
                    head = self._turns[0] is turn
                    self._turns.remove(turn)
                    if head and self._turns:
                        self._turns[0].release()

    def _break(self) -> None:
        """The replies are out of step with the requests (or the worker is gone): read no more."""
        self._broken = self.lost = True
        if self.process.poll() is None:
            self.process.kill()  # a reader blocked on its reply gets end of file

    def close(self, timeout: float = 10.0) -> None:
        """End the worker: it answers what it has been sent, then exits; killed after ``timeout``."""
        if not self._send.acquire(timeout=timeout):  # a sender is stuck on a worker that does not read
            self._break()
            self._send.acquire()
        try:
            self.lost = True
            self._requests.close()
        finally:
            self._send.release()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._break()
            self.process.wait()
        deadline = time.monotonic() + 1.0  # let callers still reading their replies finish
        while self._turns and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self._turns:  # else a late reader still holds it: it is closed when collected
            self._replies.close()


class PromotionPool:
    """``workers`` processes promoting requests; ``promote`` blocks the calling thread only."""

    def __init__(self, workers: int, rules: Rules | None) -> None:
        self._rules = rules
        self._lock = threading.Lock()  # guards replacing a lost worker, and closing
        self._closed = False
        self._workers: list[_Worker] = []
        try:
            for _ in range(workers):
                self._workers.append(_Worker(rules))
        except BaseException:
            self.close()
            raise

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids, as they are now."""
        return [w.process.pid for w in self._workers]

    def promote(self, signal: Signal, body: bytes, content_type: str) -> Promotion:
        """Raises ``BadRequest``, or ``WorkerLost`` (retryable) when a worker died (it is replaced)
        or the pool is closed. Goes to the worker with the fewest requests queued, a lost one last."""
        if any(w.lost for w in self._workers):  # one died (or could not be started) and is not replaced yet
            self._replace()
        worker = min(self._workers, key=lambda w: (w.lost, w.outstanding))
        try:
            error, wires, rejected, dropped = worker.call((signal, body, content_type))
        except WorkerLost:
            self._replace()
            raise
        if error is not None:
            exception, where = error
            exception.add_note(f"raised in the promotion worker:\n{where}")  # its traceback, shown when logged
            raise exception
        return Promotion([from_wire(w) for w in wires], rejected, dropped)

    def _replace(self) -> None:
        """Start a worker in place of each lost one. One caller does it; the others, and any caller
        once the pool is closed, go on (their request is retried by its client). A worker that
        cannot be started stays lost: the next caller that finds one lost tries again."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            for k, worker in enumerate(self._workers):
                if self._closed or not worker.lost:
                    continue
                worker.close(timeout=0)
                log.error("a promotion worker died (exit code %s); starting a new one", worker.process.returncode)
                try:
                    self._workers[k] = _Worker(self._rules)
                except WorkerLost as e:
                    log.error("%s; the next request that finds a worker gone tries again", e)
                    return
        finally:
            self._lock.release()

    def close(self) -> None:
        """End every worker (each answers what it has been sent first); ``promote`` then raises
        ``WorkerLost``."""
        with self._lock:
            self._closed = True
            workers = list(self._workers)
        for worker in workers:
            worker.close()
