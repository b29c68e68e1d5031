"""Overload with promotion workers on: every answer is OK or UNAVAILABLE with RetryInfo, every
admission is given back, and the ledger holds exactly the facts of the requests that were answered OK."""

from __future__ import annotations

import threading
import time
import uuid

import grpc
from google.rpc import status_pb2

from chatsnapshot.proto import attributes as A
from tests.otlp import SpanRecorder, fact_attributes, request_of
from tests.receiver.conftest import start_receiver

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
CLIENTS, SPANS, SECONDS = 12, 128, 4.0
WORDS = ["the", "receiver", "answers", "every", "request", "with", "a", "commit", "or", "a", "delay", "it",
         "can", "keep"]


def _request(client: int, n: int) -> tuple[bytes, set[str]]:
    """SPANS spans with one fact each (ids set by the producer, ~700 bytes of text)."""
    recorder = SpanRecorder()
    ids = set()
    for k in range(SPANS):
        event_id = str(uuid.uuid4())
        ids.add(event_id)
        with recorder.tracer.start_as_current_span("step") as span:
            span.add_event("execution.message", fact_attributes(
                "execution.message", {"content": " ".join(WORDS[(k + i) % len(WORDS)] for i in range(100))},
                **{A.EVENT_ID: event_id, A.CORRELATION_ID: f"client-{client}"}))
    return request_of(recorder.spans()).SerializeToString(), ids


def test_three_times_capacity_with_workers_gets_only_ok_or_unavailable_and_loses_nothing(tmp_path):
    body_size = len(_request(0, 0)[0])
    # Room for about one request in flight: the clients offer many times what that admits.
    receiver = start_receiver(tmp_path / "ledger", workers=1, max_pending_bytes=2 * body_size)
    answers: dict[str, int] = {}
    committed: set[str] = set()
    refused_ids: set[str] = set()
    lock = threading.Lock()
    stop = time.monotonic() + SECONDS

    def client(number: int) -> None:
        with grpc.insecure_channel(f"127.0.0.1:{receiver.grpc_port}") as channel:
            call = channel.unary_unary(EXPORT, request_serializer=None, response_deserializer=None)
            n = 0
            while time.monotonic() < stop:
                body, ids = _request(number, n)
                n += 1
                try:
                    call(body, timeout=5)
                    code, facts = "OK", committed
                except grpc.RpcError as e:
                    code, facts = e.code().name, refused_ids
                    if e.code() is grpc.StatusCode.UNAVAILABLE:
                        trailers = dict(e.trailing_metadata() or ())
                        assert "google.rpc.retryinfo-bin" in trailers  # what the OTLP exporters read
                        assert status_pb2.Status.FromString(trailers["grpc-status-details-bin"]).details
                with lock:
                    answers[code] = answers.get(code, 0) + 1
                    facts.update(ids)

    peak = [0]

    def watch() -> None:  # the bytes held by requests in flight, sampled through the load
        while time.monotonic() < stop:
            peak[0] = max(peak[0], receiver.ingest.bytes_in_flight)
            time.sleep(0.002)

    try:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        threads.append(threading.Thread(target=watch))
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        stored = [e.event_id for r in receiver.ledger.runs() for e in receiver.ledger.replay(r.correlation_id)]
        in_flight = receiver.ingest.bytes_in_flight  # admitted before their bodies were read, all given back
    finally:
        receiver.stop(grace=5)
    print(f"answers: {answers}")
    assert set(answers) <= {"OK", "UNAVAILABLE"}, answers
    assert answers.get("OK", 0) > 0 and answers.get("UNAVAILABLE", 0) > 0  # the load really was too much
    assert len(stored) == len(set(stored))  # each fact once
    assert set(stored) == committed  # exactly what was acknowledged: nothing refused was committed
    assert peak[0] > 0  # the watch saw requests in flight (the bound itself: test_admission)
    assert in_flight == 0 and receiver.ingest._tickets.admitted == 0  # every admission given back

