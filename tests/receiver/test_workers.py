"""Promotion workers never outlive their receiver, also when it dies while they are starting; the pipes
to and from them hold a whole request."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time

from chatsnapshot.receiver import workers
from tests.otlp import SpanRecorder, fact_attributes, request_of


def _start_worker(parent: int) -> None:
    """A worker's start-up, told which process started it, then idle as a worker is."""
    workers._init(None, parent)
    time.sleep(60)


def _alive_after(parent: int, seconds: float) -> bool:
    process = multiprocessing.get_context("spawn").Process(target=_start_worker, args=(parent,))
    process.start()
    try:
        process.join(timeout=seconds)
        return process.is_alive()
    finally:
        process.kill()
        process.join()


def test_a_worker_whose_receiver_is_already_gone_when_it_starts_exits_at_once():
    # Its recorded receiver (pid 1 here) is not its parent: as after a SIGKILL during start-up,
    # when the worker has been re-parented before its initializer ran.
    assert not _alive_after(1, seconds=5)


def test_a_worker_whose_receiver_lives_keeps_working():
    assert _alive_after(os.getpid(), seconds=2)


def test_the_pipes_to_and_from_the_workers_hold_a_whole_request():
    rec = SpanRecorder()
    for _ in range(3):  # ~150 KB of payloads: more than a default 64 KiB pipe, either way
        with rec.tracer.start_as_current_span("batch") as span:
            for _ in range(100):  # the SDK keeps at most 128 events a span
                span.add_event("f", fact_attributes("system.task_completed", {"pad": "x" * 400}))
    body = request_of(rec.spans()).SerializeToString()
    assert len(body) > 64 << 10
    pool = workers.PromotionPool(1, None)
    try:
        if sys.platform == "linux":  # as the pool started them: widened
            import fcntl

            pipes = (pool._pool._call_queue._writer, pool._pool._result_queue._writer)  # type: ignore[attr-defined]
            assert [fcntl.fcntl(p.fileno(), fcntl.F_GETPIPE_SZ) for p in pipes] == [workers.PIPE_BYTES] * 2
        promotion = pool.promote("traces", body, "application/x-protobuf")
        assert len(promotion.envelopes) == 300 and not promotion.rejected
    finally:
        pool.close()


def test_pipes_that_cannot_be_reached_are_left_as_they_are():
    assert workers.widen_pipes(object()) == []  # type: ignore[arg-type]  (not a pool of this CPython's making)
