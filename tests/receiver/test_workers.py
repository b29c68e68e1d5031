"""Promotion workers: each request answered by its own reply, in any interleaving of threads; a
worker never outlives its receiver, also when the receiver dies while the worker is starting; a
worker that dies is replaced, and what it had is retried; the pipes hold a whole request."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time

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


def _serving(close_our_end_at_once: bool) -> tuple[multiprocessing.process.BaseProcess, object]:
    """A worker started as the pool starts one; ``close_our_end_at_once``: the receiver is gone
    before the worker has even imported anything (as after a SIGKILL during start-up)."""
    context = multiprocessing.get_context("spawn")
    their_requests, requests = context.Pipe(duplex=False)
    replies, their_replies = context.Pipe(duplex=False)
    process = context.Process(target=workers._serve, args=(their_requests, their_replies, None), daemon=True)
    process.start()
    their_requests.close()
    their_replies.close()
    if close_our_end_at_once:
        requests.close()
    return process, (requests, replies)


def test_a_worker_whose_receiver_is_gone_when_it_starts_exits_at_once():
    process, _pipes = _serving(close_our_end_at_once=True)
    try:
        process.join(timeout=10)
        assert not process.is_alive() and process.exitcode == 0
    finally:
        process.kill()
        process.join()


def test_a_worker_whose_receiver_lives_keeps_working_until_its_requests_end():
    process, (requests, replies) = _serving(close_our_end_at_once=False)
    try:
        assert replies.poll(30) and replies.recv() is None  # ready
        time.sleep(1)
        assert process.is_alive()
        requests.send(("traces", _request(3, "alive"), PROTOBUF))
        error, wires, rejected, dropped = replies.recv()
        assert error is None and len(wires) == 3 and not rejected and dropped == 0
        requests.close()  # the receiver closes (or dies): the worker's requests end
        process.join(timeout=10)
        assert not process.is_alive()
    finally:
        process.kill()
        process.join()


def test_concurrent_requests_each_get_their_own_promotion_and_bad_ones_their_error():
    pool = workers.PromotionPool(1, None)
    bodies = {f"r{k}": _request(1 + k % 7, f"r{k}") for k in range(24)}
    got: dict[str, object] = {}

    def send(tag: str, body: bytes) -> None:
        try:
            got[tag] = pool.promote("traces", body, PROTOBUF)
        except BadRequest as e:
            got[tag] = e

    try:
        threads = [threading.Thread(target=send, args=item) for item in bodies.items()]
        threads += [threading.Thread(target=send, args=(f"bad{k}", b"\xff not protobuf" * (k + 1)))
                    for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        pool.close()
    for k in range(24):
        promotion = got[f"r{k}"]
        assert isinstance(promotion, Promotion)
        assert [e.payload["tag"] for e in promotion.envelopes] == [f"r{k}"] * (1 + k % 7)
    assert all(isinstance(got[f"bad{k}"], BadRequest) for k in range(4))


def test_a_worker_that_dies_is_replaced_and_the_request_it_had_is_retryable():
    pool = workers.PromotionPool(1, None)
    try:
        [first] = pool.pids
        os.kill(first, signal.SIGKILL)
        with pytest.raises(WorkerLost):
            pool.promote("traces", _request(2, "lost"), PROTOBUF)
        [second] = pool.pids
        assert second != first
        assert len(pool.promote("traces", _request(2, "after"), PROTOBUF).envelopes) == 2
    finally:
        pool.close()


def test_close_ends_the_workers():
    pool = workers.PromotionPool(2, None)
    processes = [w.process for w in pool._workers]
    pool.close()
    assert all(not p.is_alive() and p.exitcode == 0 for p in processes)


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
