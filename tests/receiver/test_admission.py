"""Admission first: bounded bytes in flight before any decoding; expired requests never committed."""

from __future__ import annotations

import threading
import time

import pytest

from chatsnapshot.errors import BadRequest, DeadlineExpired, Overloaded
from chatsnapshot.ledger.memory import MemoryLedger
from chatsnapshot.receiver import ingest as ingest_module
from chatsnapshot.receiver.ingest import Ingest
from tests.receiver.test_bad_input import one_fact_request


@pytest.fixture
def store(tmp_path):
    with MemoryLedger.open(tmp_path / "memory") as store:
        yield store


def stored(store) -> int:
    return len(store.sql("SELECT * FROM envelopes"))


def test_a_request_past_its_deadline_is_not_started(store):
    ingest = Ingest(store)
    with pytest.raises(DeadlineExpired, match="before it started"):
        ingest.export("traces", one_fact_request(), deadline=time.monotonic() - 0.001)
    assert stored(store) == 0


def test_a_deadline_that_passes_before_the_commit_commits_nothing(store, monkeypatch):
    promote = ingest_module.promote_request

    def slow(*args, **kwargs):  # promotion that takes longer than the client will wait
        time.sleep(0.3)
        return promote(*args, **kwargs)

    monkeypatch.setattr(ingest_module, "promote_request", slow)
    ingest = Ingest(store)
    with pytest.raises(DeadlineExpired, match="before it was committed"):
        ingest.export("traces", one_fact_request(), deadline=time.monotonic() + 0.1)
    assert stored(store) == 0
    ingest.export("traces", one_fact_request(), deadline=time.monotonic() + 5)  # in time: committed
    assert stored(store) == 1


def test_bytes_in_flight_are_bounded_before_decoding_and_the_delay_grows(store, monkeypatch):
    gate = threading.Event()
    promote = ingest_module.promote_request

    def held(*args, **kwargs):  # the first request holds its admission until the gate opens
        gate.wait(10)
        return promote(*args, **kwargs)

    monkeypatch.setattr(ingest_module, "promote_request", held)
    body = one_fact_request()
    ingest = Ingest(store, max_pending_bytes=len(body), admit_timeout=0.2, retry_after=1.0)
    first = threading.Thread(target=ingest.export, args=("traces", body))
    first.start()
    time.sleep(0.1)
    with pytest.raises(Overloaded) as refused:
        ingest.export("traces", b"\xff not even decoded")  # refused by admission, before any decoding
    assert refused.value.retry_after is not None and refused.value.retry_after > 1.0
    gate.set()
    first.join(10)
    assert stored(store) == 1


def test_a_request_whose_turn_would_come_after_its_deadline_is_refused_at_once(store, monkeypatch):
    gate = threading.Event()
    promote = ingest_module.promote_request

    def held(*args, **kwargs):  # the first request is admitted and stays in flight until the gate opens
        gate.wait(10)
        return promote(*args, **kwargs)

    monkeypatch.setattr(ingest_module, "promote_request", held)
    body = one_fact_request()
    ingest = Ingest(store, admit_timeout=5.0, retry_after=0.5)
    ingest._throughput.started()  # a measured rate: one request's bytes in 0.3 s of busy time
    time.sleep(0.3)
    ingest._throughput.done(len(body))
    first = threading.Thread(target=ingest.export, args=("traces", body))
    first.start()
    time.sleep(0.1)
    started = time.monotonic()
    with pytest.raises(Overloaded) as refused:  # at that rate the request ahead takes longer than 0.2 s
        ingest.export("traces", body, deadline=time.monotonic() + 0.2)
    assert time.monotonic() - started < 2.5  # refused, not after waiting out admit_timeout (5 s)
    assert refused.value.retry_after is not None and refused.value.retry_after >= 0.5
    assert "more than its deadline leaves" in str(refused.value)
    gate.set()
    first.join(10)
    assert stored(store) == 1


def test_the_work_ahead_is_bounded_in_time_once_the_pipeline_is_full(store):
    ingest = Ingest(store, max_queue_delay=0.5, admit_timeout=5.0)
    ingest._throughput.started()  # a measured rate: 100 kB in 0.3 s of busy time
    time.sleep(0.3)
    ingest._throughput.done(100_000)
    # The first requests in flight are admitted however much work is ahead of them (up to ~1.2 s
    # here): they are what keeps the workers and the writer busy.
    tickets = [ingest.admit(size=100_000) for _ in range(ingest_module._PIPELINE)]
    started = time.monotonic()
    with pytest.raises(Overloaded, match=r"queues at most 0\.5 s") as refused:  # no deadline: bounded all the same
        ingest.admit(size=100_000)
    assert time.monotonic() - started < 2.5  # refused at once, not after waiting out admit_timeout (5 s)
    wait = refused.value.retry_after
    assert wait is not None and 1.0 <= wait <= 9.0  # the predicted wait, at least the default delay
    assert ingest.bytes_in_flight == ingest_module._PIPELINE * 100_000  # the refused request took nothing
    for ticket in tickets:
        ticket.release()
    ingest.admit(size=100_000).release()  # the work ahead is done: admitted again
    assert ingest.bytes_in_flight == 0 and ingest._tickets.admitted == 0


def test_requests_arriving_together_pass_the_time_bound_only_as_far_as_the_pipeline_goes(store):
    ingest = Ingest(store, max_queue_delay=0.5, admit_timeout=5.0)
    ingest._throughput.started()  # a measured rate: 100 kB in 0.3 s of busy time
    time.sleep(0.3)
    ingest._throughput.done(100_000)
    held = [ingest.admit(size=100_000) for _ in range(ingest_module._PIPELINE - 1)]  # ~0.9 s of work ahead
    start = threading.Barrier(10)
    admitted, refused = [], []

    def arrive() -> None:
        start.wait()
        try:
            admitted.append(ingest.admit(size=100_000))
        except Overloaded:
            refused.append(1)

    threads = [threading.Thread(target=arrive) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert (len(admitted), len(refused)) == (1, 9)  # one more fills the pipeline; the rest see the bound
    for ticket in held + admitted:
        ticket.release()
    assert ingest.bytes_in_flight == 0 and ingest._tickets.admitted == 0


def test_a_body_not_read_yet_is_admitted_as_the_average_and_corrected_when_read(store):
    body = one_fact_request()
    b = len(body)
    ingest = Ingest(store, max_pending_bytes=4 * b, admit_timeout=0.05)
    for _ in range(200):  # the running average learns the size of requests
        ingest.export("traces", body)
    unread = ingest.admit()  # a gRPC body not read yet counts as the average
    assert abs(unread.size - b) <= b // 20 and ingest.bytes_in_flight == unread.held == unread.size
    unread.resize(b)
    others = [ingest.admit(size=b) for _ in range(3)]  # the budget is full...
    with pytest.raises(Overloaded):
        ingest.admit()  # ...so the next is refused before its body is read
    with pytest.raises(Overloaded):
        unread.resize(2 * b)  # its body turned out larger than the room left: refused as read
    assert ingest.bytes_in_flight == 4 * b  # the failed resize took nothing
    others[0].resize(1)  # a smaller body gives back the rest at once
    assert ingest.bytes_in_flight == 3 * b + 1
    unread.release()
    ingest.export("traces", body, ticket=ingest.admit(size=b))  # the room is used again, and given back
    for t in others:
        t.release()
        t.release()  # idempotent
    assert ingest.bytes_in_flight == 0
    assert stored(store) == 1  # one_fact_request is the same fact every time: stored once


def test_a_body_larger_than_the_whole_budget_goes_alone_whatever_it_is_resized_to(store):
    ingest = Ingest(store, max_pending_bytes=100, admit_timeout=0.05)
    ticket = ingest.admit(size=150)
    assert ticket.held == 100 == ingest.bytes_in_flight  # alone: the whole budget, no more
    ticket.resize(200)  # its body turned out larger still: it still goes alone
    assert ticket.held == 100 == ingest.bytes_in_flight
    ticket.resize(50)
    assert ticket.held == 50 == ingest.bytes_in_flight
    ticket.release()
    assert ingest.bytes_in_flight == 0


def test_at_most_a_few_requests_are_promoted_or_committed_at_once_and_the_others_wait_in_time(store, monkeypatch):
    gate = threading.Event()
    promote = ingest_module.promote_request
    busy, peak, lock = [0], [0], threading.Lock()

    def held(*args, **kwargs):  # promotion that waits for the gate, counting who is in it at once
        with lock:
            busy[0] += 1
            peak[0] = max(peak[0], busy[0])
        try:
            gate.wait(10)
            return promote(*args, **kwargs)
        finally:
            with lock:
                busy[0] -= 1

    monkeypatch.setattr(ingest_module, "promote_request", held)
    ingest = Ingest(store, max_pending_bytes=1 << 30)
    n = ingest_module._IN_PROGRESS + 3
    threads = [threading.Thread(target=ingest.export, args=("traces", one_fact_request())) for _ in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while peak[0] < ingest_module._IN_PROGRESS and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # time for any of the others to get in, were the bound not held
    assert peak[0] == ingest_module._IN_PROGRESS  # the rest were admitted and wait for a place
    with pytest.raises(DeadlineExpired, match="waited for its turn"):
        ingest.export("traces", one_fact_request(), deadline=time.monotonic() + 0.2)
    gate.set()
    for t in threads:
        t.join(10)
    assert stored(store) == n and peak[0] == ingest_module._IN_PROGRESS
    for _ in range(ingest_module._IN_PROGRESS + 1):  # failures inside a turn give their place back
        with pytest.raises(BadRequest):
            ingest.export("traces", b"\xff not a request", deadline=time.monotonic() + 5)
    ingest.export("traces", one_fact_request(), deadline=time.monotonic() + 5)
    assert stored(store) == n + 1
