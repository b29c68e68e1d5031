"""Promotion workers: each request answered by its own reply, however the callers interleave; a
worker never outlives its receiver, also when the receiver dies while the worker is starting; a
worker that dies fails what it had retryably and is replaced; closing answers what was sent and
starts nothing after; the pipes hold a whole request."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection

import pytest

from chatsnapshot.errors import BadRequest, WorkerLost
from chatsnapshot.receiver import workers
from chatsnapshot.receiver.promotion import Promotion
from tests.otlp import SpanRecorder, fact_attributes, request_of

PROTOBUF = "application/x-protobuf"


def _request(spans: int, tag: str, pad: int = 0) -> bytes:
    """``spans`` spans of one fact each, tagged ``tag``."""
    rec = SpanRecorder()
    for k in range(spans):
        with rec.tracer.start_as_current_span(tag) as span:
            span.add_event("f", fact_attributes("system.task_completed", {"tag": tag, "k": k, "pad": "x" * pad}))
    return request_of(rec.spans()).SerializeToString()


def _serving(close_our_end_at_once: bool) -> tuple[subprocess.Popen[bytes], Connection, Connection]:
    """A worker started as the pool starts one; ``close_our_end_at_once``: the receiver is gone
    before the worker has even imported anything (as after a SIGKILL during start-up)."""
    process, requests, replies = workers._spawn(None)
    if close_our_end_at_once:
        requests.close()
    return process, requests, replies


def test_a_worker_whose_receiver_is_gone_when_it_starts_exits_at_once():
    process, _requests, _replies = _serving(close_our_end_at_once=True)
    try:
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()


def test_a_worker_whose_receiver_lives_keeps_working_until_its_requests_end():
    process, requests, replies = _serving(close_our_end_at_once=False)
    try:
        assert replies.poll(30) and replies.recv() is None  # ready
        requests.send(("traces", _request(3, "alive"), PROTOBUF))
        assert replies.poll(30)
        error, wires, rejected, dropped = replies.recv()
        assert error is None and len(wires) == 3 and not rejected and dropped == 0
        assert process.poll() is None
        requests.close()  # the receiver closes (or dies): the worker's requests end
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()


def _in_threads(pool: workers.PromotionPool, bodies: dict[str, bytes], during=None) -> dict[str, object]:
    """Promote every body from its own thread, all released at once; ``during()`` runs once
    several are queued on the worker. Returns each tag's promotion or error."""
    got: dict[str, object] = {}
    barrier = threading.Barrier(len(bodies) + 1)

    def send(tag: str, body: bytes) -> None:
        barrier.wait()
        try:
            got[tag] = pool.promote("traces", body, PROTOBUF)
        except Exception as e:  # BadRequest, WorkerLost, what a test injects
            got[tag] = e

    threads = [threading.Thread(target=send, args=item, daemon=True) for item in bodies.items()]
    for t in threads:
        t.start()
    barrier.wait()
    deadline = time.monotonic() + 30
    while max(w.outstanding for w in pool._workers) < 3 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert max(w.outstanding for w in pool._workers) >= 3, "the requests never overlapped"
    if during is not None:
        during()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a caller was left waiting"
    return got


def _own(promotion: object, tag: str, n: int) -> bool:
    return isinstance(promotion, Promotion) and [e.payload["tag"] for e in promotion.envelopes] == [tag] * n


def test_concurrent_requests_each_get_their_own_promotion_and_bad_ones_their_error():
    pool = workers.PromotionPool(1, None)
    bodies = {f"r{k}": _request(20 + k % 7, f"r{k}", pad=2000) for k in range(24)}
    bodies.update({f"bad{k}": b"\xff not protobuf" * (k + 1) for k in range(4)})
    try:
        got = _in_threads(pool, bodies)
    finally:
        pool.close()
    assert all(_own(got[f"r{k}"], f"r{k}", 20 + k % 7) for k in range(24))
    assert all(isinstance(got[f"bad{k}"], BadRequest) for k in range(4))
    assert any("decoding.py" in note for note in got["bad0"].__notes__)  # where in the worker it was raised


def test_a_worker_that_dies_with_requests_queued_fails_them_all_retryably_and_is_replaced():
    pool = workers.PromotionPool(1, None)
    bodies = {f"r{k}": _request(40, f"r{k}", pad=2000) for k in range(16)}
    [first] = pool.pids
    try:
        def die() -> None:  # stopped first: the replies not written by then are never written
            os.kill(first, signal.SIGSTOP)
            time.sleep(0.3)
            os.kill(first, signal.SIGKILL)

        got = _in_threads(pool, bodies, during=die)
        # Each caller got its own promotion (answered before the kill) or WorkerLost; none another's.
        assert all(_own(got[tag], tag, 40) or isinstance(got[tag], WorkerLost) for tag in bodies)
        assert any(isinstance(v, WorkerLost) for v in got.values())
        [second] = pool.pids
        assert second != first
        assert _own(pool.promote("traces", _request(2, "after"), PROTOBUF), "after", 2)
    finally:
        pool.close()


class _ReadFailsOnce:
    """A worker's replies pipe whose next read fails before reading anything (as a MemoryError
    would while allocating the reply): that reply stays in the pipe."""

    def __init__(self, connection: Connection) -> None:
        self._connection, self._failed = connection, False

    def recv(self) -> object:
        if not self._failed:
            self._failed = True
            raise MemoryError("injected")
        return self._connection.recv()

    def __getattr__(self, name: str) -> object:
        return getattr(self._connection, name)


def test_a_caller_that_fails_reading_its_reply_leaves_no_reply_to_the_next_caller():
    pool = workers.PromotionPool(1, None)
    bodies = {f"r{k}": _request(40, f"r{k}", pad=2000) for k in range(12)}
    worker = pool._workers[0]
    try:
        got = _in_threads(pool, bodies, during=lambda: setattr(worker, "_replies", _ReadFailsOnce(worker._replies)))
    finally:
        pool.close()
    failed = [tag for tag in bodies if isinstance(got[tag], MemoryError)]
    assert len(failed) == 1
    # The others got their own promotion (read before the failure) or WorkerLost, never the unread reply.
    assert all(_own(got[tag], tag, 40) or isinstance(got[tag], WorkerLost) for tag in bodies if tag not in failed)


def test_closing_with_requests_queued_answers_them_and_starts_nothing_after():
    pool = workers.PromotionPool(1, None)
    bodies = {f"r{k}": _request(40, f"r{k}", pad=2000) for k in range(12)}
    [pid] = pool.pids
    queued: list[int] = []

    def close() -> None:
        queued.append(pool._workers[0].outstanding)
        pool.close()

    got = _in_threads(pool, bodies, during=close)
    # What was sent (or being sent) when it closed is answered before the worker ends; later ones are refused.
    answered = [tag for tag in bodies if _own(got[tag], tag, 40)]
    assert len(answered) >= queued[0] >= 3
    assert all(isinstance(got[tag], WorkerLost) for tag in bodies if tag not in answered)
    with pytest.raises(WorkerLost):
        pool.promote("traces", _request(1, "late"), PROTOBUF)
    assert pool.pids == [pid] and not os.path.exists(f"/proc/{pid}/status")


def test_a_worker_finds_the_receivers_modules_not_the_working_directorys(tmp_path, monkeypatch):
    (tmp_path / "chatsnapshot").mkdir()
    (tmp_path / "chatsnapshot" / "__init__.py").write_text("raise ImportError('another chatsnapshot')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", ["", *sys.path])  # as `python -m`/`-c` receivers have it (its package is loaded)
    pool = workers.PromotionPool(1, None)
    try:
        assert _own(pool.promote("traces", _request(2, "cwd"), PROTOBUF), "cwd", 2)
    finally:
        pool.close()


def test_close_ends_the_workers():
    pool = workers.PromotionPool(2, None)
    processes = [w.process for w in pool._workers]
    pool.close()
    assert [p.poll() for p in processes] == [0, 0]


def test_the_pipes_to_and_from_the_workers_hold_a_whole_request():
    body = _request(300, "big", pad=400)  # ~150 KB of payloads: more than a default 64 KiB pipe, either way
    assert len(body) > 64 << 10
    pool = workers.PromotionPool(1, None)
    try:
        if sys.platform == "linux":  # as the pool started them: widened
            import fcntl

            worker = pool._workers[0]
            pipes = (worker._requests, worker._replies)
            assert [fcntl.fcntl(p.fileno(), fcntl.F_GETPIPE_SZ) for p in pipes] == [workers.PIPE_BYTES] * 2
        promotion = pool.promote("traces", body, PROTOBUF)
        assert len(promotion.envelopes) == 300 and not promotion.rejected
    finally:
        pool.close()
