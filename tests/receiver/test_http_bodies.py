"""OTLP/HTTP bodies as clients send them: chunked (the OTel JS SDK streams its bodies), gzip, keep-alive."""

from __future__ import annotations

import gzip
import http.client
import socket
import time

import pytest
from google.rpc import status_pb2

from tests.receiver.conftest import start_receiver
from tests.receiver.test_bad_input import one_fact_request

LIMIT = 64 << 10


@pytest.fixture
def small(tmp_path):
    r = start_receiver(tmp_path / "ledger", memory=True, max_request_bytes=LIMIT)
    yield r
    r.stop(grace=2)


def chunked_post(receiver, body: bytes, *, chunk: int = 1000, gzipped: bool = False,
                 conn: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:
    host, port = receiver.http_address
    conn = conn or http.client.HTTPConnection(host, port, timeout=10)
    payload = gzip.compress(body) if gzipped else body
    headers = {"Content-Type": "application/x-protobuf", **({"Content-Encoding": "gzip"} if gzipped else {})}
    conn.request("POST", "/v1/traces", body=(payload[i:i + chunk] for i in range(0, len(payload), chunk)),
                 headers=headers, encode_chunked=True)
    answer = conn.getresponse()
    return answer.status, answer.read()


@pytest.mark.parametrize("gzipped", [False, True])
def test_a_chunked_body_is_committed(small, gzipped):
    status, _ = chunked_post(small, one_fact_request(), gzipped=gzipped)
    assert status == 200
    assert len(small.ledger.sql("SELECT * FROM envelopes")) == 1


def raw_chunked(receiver, payload: bytes, chunk: int = 4096) -> bytes:
    """The whole request written before the answer is read (the server stops reading at the limit)."""
    host, port = receiver.http_address
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(payload[i:i + chunk]), payload[i:i + chunk])
                      for i in range(0, len(payload), chunk))
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n")
        return s.recv(65536)


def test_chunked_bodies_over_the_limit_are_413_as_sent_and_after_gzip(small):
    answer = raw_chunked(small, one_fact_request(padding="x" * (LIMIT + 1000)))
    assert answer.startswith(b"HTTP/1.1 413") and b"over the limit" in answer
    bomb = one_fact_request(padding="\0" * (8 << 20))  # compresses to ~8 KiB: under the limit as sent
    status, body = chunked_post(small, bomb, gzipped=True)
    assert status == 413 and "decompresses to more than the limit" in status_pb2.Status.FromString(body).message
    assert chunked_post(small, one_fact_request())[0] == 200  # and it goes on
    assert len(small.ledger.sql("SELECT * FROM envelopes")) == 1


def test_a_malformed_chunk_is_400(small):
    host, port = small.http_address
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")
        answer = s.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400") and b"malformed chunk size" in answer


def test_many_requests_on_one_kept_alive_connection(small):
    host, port = small.http_address
    conn = http.client.HTTPConnection(host, port, timeout=10)
    for _ in range(20):
        status, _ = chunked_post(small, one_fact_request(), conn=conn)
        assert status == 200
    conn.close()
    assert len(small.ledger.sql("SELECT * FROM envelopes")) == 20


# -- strict OTLP/JSON ------------------------------------------------------------------------


def json_request(**span_changes) -> dict:
    span = {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "s",
            "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000001000000000",
            "events": [{"timeUnixNano": "1700000000500000000", "name": "system.task_scheduled", "attributes": [
                {"key": "chatsnapshot.event_type", "value": {"stringValue": "system.task_scheduled"}},
                {"key": "chatsnapshot.payload", "value": {"stringValue": "{\"task\": \"t1\"}"}}]}]}
    span.update(span_changes)
    return {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}


def post_json(receiver, document: dict) -> tuple[int, str]:
    import json

    host, port = receiver.http_address
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("POST", "/v1/traces", body=json.dumps(document), headers={"Content-Type": "application/json"})
    answer = conn.getresponse()
    text = answer.read().decode()
    return answer.status, (json.loads(text).get("message", "") if text else "")


@pytest.mark.parametrize(("change", "field", "says"), [
    ({"traceId": "5b8efff798038103d269b633813fc6"}, "resourceSpans[0].scopeSpans[0].spans[0].traceId", "32 hex"),
    ({"spanId": "ee e1 9b 7e c3 c1 b1 74"}, "resourceSpans[0].scopeSpans[0].spans[0].spanId", "16 hex"),
    ({"trace_id": "5b8efff798038103d269b633813fc60c"}, "spans[0].trace_id", "use 'traceId'"),
    ({"events": [{"name": "e", "attributes": [{"key": "k", "value": "bare"}]}]},
     "spans[0].events[0].attributes[0].value", "expected an object (AnyValue), got a string"),
    ({"events": {"name": "e"}}, "spans[0].events", "expected a list"),
])
def test_malformed_otlp_json_is_400_naming_the_field(small, change, field, says):
    status, message = post_json(small, json_request(**change))
    assert status == 400 and field in message and says in message, message


def test_unknown_otlp_json_keys_are_ignored_as_the_specification_says(small):
    status, _ = post_json(small, json_request(someFutureField={"x": 1}, droppedAttributesCount=0))
    assert status == 200
    [env] = small.ledger.replay("5b8efff798038103d269b633813fc60c")
    assert env.payload == {"task": "t1"}


# -- refused from the headers, before the body -------------------------------------------------


@pytest.mark.parametrize(("headers", "status"), [
    ({"Authorization": "Bearer wrong", "Content-Length": "1000"}, b"401"),  # under the limit: never read
    ({"Authorization": "Bearer right", "Content-Length": str(48 << 20)}, b"413"),
    ({"Authorization": "Bearer wrong", "Content-Length": "10", "Expect": "100-continue"}, b"401"),
])
def test_refused_from_the_headers_without_reading_the_body(tmp_path, headers, status):
    r = start_receiver(tmp_path / "ledger", memory=True, max_request_bytes=LIMIT, tokens=("right",))
    try:
        host, port = r.http_address
        with socket.create_connection((host, port), timeout=5) as s:  # the body is never sent
            head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            s.sendall(f"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n{head}\r\n"
                      .encode())
            answer = s.recv(65536)  # a server that waited for the body would time out here
        assert answer.startswith(b"HTTP/1.1 " + status), answer[:200]
        assert b"100 Continue" not in answer
    finally:
        r.stop(grace=2)


def test_gunzip_holds_no_more_than_the_limit_and_a_piece():
    import tracemalloc

    from chatsnapshot.errors import RequestTooLarge
    from chatsnapshot.receiver.http_service import _gunzip

    limit = 8 << 20
    bomb = gzip.compress(b"\0" * (64 << 20))  # one member, 64 MiB inside ~64 KiB
    tracemalloc.start()
    try:
        with pytest.raises(RequestTooLarge):
            _gunzip(bomb, limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < limit + (3 << 20), f"peak {peak >> 20} MiB for a limit of {limit >> 20} MiB"
    two_members = gzip.compress(b"abc" * 1000) + gzip.compress(b"xyz")
    assert bytes(_gunzip(two_members, limit)) == b"abc" * 1000 + b"xyz"


def test_expect_100_continue_is_said_only_to_a_request_admission_takes(tmp_path):
    body = one_fact_request()
    r = start_receiver(tmp_path / "ledger", memory=True, max_pending_bytes=4 * len(body))
    try:
        host, port = r.http_address
        head = (f"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n").encode()
        held = r.ingest.admit(size=4 * len(body))  # the budget is full
        with socket.create_connection((host, port), timeout=5) as s:
            s.sendall(head)
            answer = s.recv(65536)
        assert answer.startswith(b"HTTP/1.1 503") and b"100 Continue" not in answer and b"Retry-After" in answer
        held.release()
        with socket.create_connection((host, port), timeout=5) as s:  # room again: continue, then committed
            s.sendall(head)
            assert s.recv(65536).startswith(b"HTTP/1.1 100")
            s.sendall(body)
            assert s.recv(65536).startswith(b"HTTP/1.1 200")
        assert r.ingest.bytes_in_flight == 0
    finally:
        r.stop(grace=2)


@pytest.mark.parametrize("method", ["PUT", "GET", "POST"])
def test_an_admission_before_100_continue_is_given_back_whatever_follows(tmp_path, method):
    # PUT and GET are answered without do_POST; the POST's client goes away after 100 Continue.
    r = start_receiver(tmp_path / "ledger", memory=True)
    try:
        host, port = r.http_address
        head = (f"{method} /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                f"Content-Length: {32 << 20}\r\nExpect: 100-continue\r\n\r\n").encode()
        for _ in range(5):  # more than the requests that pass the queue bound on their own
            with socket.create_connection((host, port), timeout=5) as s:
                s.sendall(head)
                s.recv(65536)
        deadline = time.monotonic() + 10  # each connection's thread finishes once its client is gone
        while r.ingest.bytes_in_flight or r.ingest._tickets.admitted:
            assert time.monotonic() < deadline, (r.ingest.bytes_in_flight, r.ingest._tickets.admitted)
            time.sleep(0.02)
        assert r.ingest.admit(size=1000).held == 1000  # an idle receiver admits
    finally:
        r.stop(grace=2)
