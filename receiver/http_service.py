"""OTLP/HTTP: ``POST /v1/traces``, ``/v1/logs``, ``/v1/metrics``; ``/healthz``, ``/readyz``, ``/metrics``.

Bodies are protobuf (``application/x-protobuf``) or OTLP/JSON
(``application/json``), optionally gzip-compressed (``Content-Encoding: gzip``).
The size limit applies to the body as sent and again while decompressing, so a
gzip bomb stops at the limit: 413. Errors answer a ``google.rpc.Status`` in the
request's encoding: 400 malformed, 401 bad token, 413 too large, 415 other
content type, 503 + ``Retry-After`` when overloaded or the store is failing
(nothing acknowledged: send again).

The server is the standard library's threading HTTP server: one thread per
connection, which is what a sidecar behind a collector needs; the ledger's group
commit turns concurrent requests into shared fsyncs.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import zlib
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2

from chatsnapshot.errors import BadRequest, RequestTooLarge, Unauthenticated, UnsupportedContentType
from chatsnapshot.receiver.auth import Authenticator
from chatsnapshot.receiver.ingest import Ingest, Ticket
from chatsnapshot.receiver.otlp import Signal, export_response
from chatsnapshot.receiver.status import retry_after_header, wire_status

__all__ = ["HttpReceiver"]

log = logging.getLogger("chatsnapshot.receiver")

_PIECE = 1 << 20  # gunzip output per step
TLS_HANDSHAKE_TIMEOUT = 10.0  # seconds a client may take to finish its TLS handshake

_PATHS: dict[str, Signal] = {"/v1/traces": "traces", "/v1/logs": "logs", "/v1/metrics": "metrics"}
_PROTOBUF, _JSON = "application/x-protobuf", "application/json"


class HttpReceiver:
    """The OTLP/HTTP server; ``start()`` serves in a thread, ``stop(grace)`` drains in-flight requests."""

    def __init__(self, address: tuple[str, int], ingest: Ingest, auth: Authenticator, *, max_request_bytes: int,
                 ready: Callable[[], bool], tls: ssl.SSLContext | None = None) -> None:
        handler = type("Handler", (_Handler,), {
            "ingest": ingest, "auth": auth, "limit": max_request_bytes, "ready": staticmethod(ready),
            "receiver": self,
        })
        self._server = ThreadingHTTPServer(address, handler)
        self._server.daemon_threads = True
        if tls is not None:
            # The handshake happens in the connection's own thread (_Handler.setup), with a timeout: in
            # accept() it would run on the one serving thread, and one stalled client would stop all.
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True,
                                                  do_handshake_on_connect=False)
        self._server.handle_error = _quiet_error  # type: ignore[method-assign]
        self._thread: threading.Thread | None = None
        self._inflight = 0
        self._idle = threading.Condition()
        self.stopping = False  # set by stop(): keep-alive connections get 503 and are closed

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-http", daemon=True)
        self._thread.start()

    def stop(self, grace: float) -> None:
        """Stop accepting, wait up to ``grace`` seconds for requests in flight, close."""
        self.stopping = True
        self._server.shutdown()
        with self._idle:
            self._idle.wait_for(lambda: self._inflight == 0, timeout=grace)
        self._server.server_close()

    def _enter(self) -> None:
        with self._idle:
            self._inflight += 1

    def _leave(self) -> None:
        with self._idle:
            self._inflight -= 1
            self._idle.notify_all()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "chatsnapshot"
    timeout = 60  # an idle keep-alive connection is closed after this
    # Buffered writes: the headers and the body leave in one send when the request is done. Two
    # small writes on a kept-alive connection meet Nagle's algorithm and the client's delayed ACK
    # (~40 ms per response); TCP_NODELAY (setup) covers answers larger than the buffer.
    wbufsize = 64 << 10
    ingest: Ingest
    auth: Authenticator
    limit: int
    ready: Callable[[], bool]
    receiver: HttpReceiver

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(TLS_HANDSHAKE_TIMEOUT)
            self.request.do_handshake()  # a failure ends this connection only (see _quiet_error)
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("http %s " + format, self.address_string(), *args)

    # -- GET: health and metrics -------------------------------------------------

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self._plain(HTTPStatus.OK, "ok\n")
        elif path == "/readyz":
            ok = self.ready()
            self._plain(HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE, "ready\n" if ok else "not ready\n")
        elif path == "/checkpoint":
            note = self.ingest.ledger.latest_checkpoint()
            if note is None:
                self._plain(HTTPStatus.NOT_FOUND, "no checkpoint yet: the ledger has not sealed anything\n")
            else:
                self._plain(HTTPStatus.OK, note)
        elif path == "/metrics":
            self._plain(HTTPStatus.OK, self.ingest.metrics.render(), "text/plain; version=0.0.4; charset=utf-8")
        else:
            self._plain(HTTPStatus.NOT_FOUND, f"no such path {path}; try /healthz, /readyz, /metrics, /checkpoint\n")

    # -- POST: OTLP export ---------------------------------------------------------

    def do_POST(self) -> None:
        self.receiver._enter()
        try:
            self._export()
        finally:
            self.receiver._leave()

    def _export(self) -> None:
        path = self.path.split("?", 1)[0]
        content_type = self._content_type()
        encoding = _JSON if content_type == _JSON else _PROTOBUF
        signal = _PATHS.get(path)
        metrics = self.ingest.metrics
        if self.receiver.stopping:
            self.close_connection = True
            return self._error(HTTPStatus.SERVICE_UNAVAILABLE, code_pb2.UNAVAILABLE, "the receiver is shutting down",
                               encoding, drain=True, extra={"Retry-After": "1"})
        if signal is None:
            return self._error(HTTPStatus.NOT_FOUND, code_pb2.NOT_FOUND, f"no OTLP endpoint at {path}; "
                               "use /v1/traces, /v1/logs or /v1/metrics", encoding, drain=True)
        try:
            self._check_headers(content_type)
            # An admission taken before 100 Continue, else now; handle_one_request gives it back
            # after the request, whatever happened (Ingest.export already has, once it ran).
            self._ticket = ticket = self._ticket or self._admit()
            outcome = self.ingest.export(signal, self._body(), content_type, ticket=ticket)
        except Exception as e:
            return self._failed(e, signal, encoding)
        metrics.add("requests", signal=signal, transport="http", outcome="ok")
        response = export_response(signal, outcome.rejected, outcome.message)
        if encoding == _JSON:
            self._send(HTTPStatus.OK, json_format.MessageToJson(response).encode(), _JSON)
        else:
            self._send(HTTPStatus.OK, response.SerializeToString(), _PROTOBUF)

    def _content_type(self) -> str:
        """The request's media type, lower case, parameters dropped (protobuf when not given)."""
        return (self.headers.get("Content-Type") or _PROTOBUF).split(";")[0].strip().lower()

    def _check_headers(self, content_type: str) -> None:
        """What can be refused from the headers alone is refused before a byte of the body is read
        (the body is left unread and the connection closed): a wrong token, another content type,
        a declared size over the limit."""
        problem: Exception | None = None
        if not self.auth.allows(self.headers.get("Authorization")):
            problem = Unauthenticated("missing or wrong bearer token")
        elif content_type not in (_PROTOBUF, _JSON):
            problem = UnsupportedContentType(f"Content-Type must be {_PROTOBUF} or {_JSON}, got {content_type}")
        else:
            length = self.headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) > self.limit:
                problem = RequestTooLarge(f"request body is {length} bytes; the limit is {self.limit}")
        if problem is not None:
            self.close_connection = True
            raise problem

    _ticket: Ticket | None = None  # this request's admission (taken before 100 Continue, or by _export)

    def handle_one_request(self) -> None:
        """One request; its admission (``_ticket``), if it took one, is given back at the end
        (releasing is idempotent), however the request ended."""
        try:
            super().handle_one_request()
        finally:
            leftover, self._ticket = self._ticket, None
            if leftover is not None:
                leftover.release()

    def _admit(self) -> Ticket:
        """Admission before the body is read, by its declared size; refused, it is never read (and
        the connection closes: the unread body cannot be skipped)."""
        length = self.headers.get("Content-Length")
        try:
            return self.ingest.admit(size=int(length) if length is not None and length.isdigit() else None)
        except Exception:
            self.close_connection = True
            raise

    def handle_expect_100(self) -> bool:
        """``Expect: 100-continue``: say continue only to a request its headers do not already refuse
        and that admission takes: a refused client never sends its body."""
        content_type = self._content_type()
        signal = _PATHS.get(self.path.split("?", 1)[0])
        if self.command == "POST" and signal is not None and not self.receiver.stopping:
            try:
                self._check_headers(content_type)
                self._ticket = self._admit()
            except Exception as e:
                self._failed(e, signal, _JSON if content_type == _JSON else _PROTOBUF)
                return False
        go_on = super().handle_expect_100()
        self.wfile.flush()  # writes are buffered (wbufsize): the client waits for this line before the body
        return go_on

    def _body(self) -> bytes:
        """The request body as sent (``Content-Length`` or ``Transfer-Encoding: chunked``, the
        limit applied while reading), then decompressed (the limit applied again)."""
        if (self.headers.get("Transfer-Encoding") or "").strip().lower() == "chunked":
            body = self._chunked()
        else:
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                self.close_connection = True
                raise BadRequest("a body needs Content-Length or Transfer-Encoding: chunked")
            size = int(length)
            if size > self.limit:
                self.close_connection = True  # the body is not read: this connection cannot carry another request
                raise RequestTooLarge(f"request body is {size} bytes; the limit is {self.limit}")
            body = self.rfile.read(size)
        encoding = (self.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding == "gzip":
            return _gunzip(body, self.limit)
        if encoding != "identity":
            raise BadRequest(f"Content-Encoding {encoding} is not supported; use gzip or none")
        return body

    def _chunked(self) -> bytes:
        """Read a chunked body (RFC 9112 section 7.1), refusing it once it passes the limit."""
        body = bytearray()
        while True:
            line = self.rfile.readline(1026)
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                self.close_connection = True
                raise BadRequest(f"malformed chunk size {size_text[:20]!r}") from None
            if size == 0:
                break
            if len(body) + size > self.limit:
                self.close_connection = True  # the rest is not read
                raise RequestTooLarge(f"request body is over the limit of {self.limit} bytes")
            chunk = self.rfile.read(size)
            if len(chunk) != size or self.rfile.read(2) != b"\r\n":
                self.close_connection = True
                raise BadRequest("chunked body is truncated")
            body += chunk
        while self.rfile.readline(1026) not in (b"\r\n", b"\n", b""):  # trailer fields: none are used
            pass
        return bytes(body)

    # -- answers -------------------------------------------------------------------

    def _failed(self, error: Exception, signal: Signal, encoding: str) -> None:
        """Answer a failed export as ``receiver.status`` says."""
        status = wire_status(error, self.ingest.retry_after)
        self.ingest.metrics.add("requests", signal=signal, transport="http", outcome=status.outcome)
        message = str(error)
        extra: dict[str, str] = {}
        if status.http is HTTPStatus.INTERNAL_SERVER_ERROR:  # a bug: answered and logged, never fatal
            log.exception("internal error handling an OTLP %s request", signal)
            message = "internal error in the receiver; see its log"
        elif isinstance(error, Unauthenticated):
            extra["WWW-Authenticate"] = "Bearer"
        if status.retry_after is not None:
            extra["Retry-After"] = retry_after_header(status.retry_after)
        self._error(status.http, status.rpc_code, message, encoding, extra=extra)

    def _error(self, status: HTTPStatus, code: int, message: str, encoding: str, *, drain: bool = False,
               extra: dict[str, str] | None = None) -> None:
        if drain:
            self._discard_body()
        body = status_pb2.Status(code=code, message=message)
        data = json_format.MessageToJson(body).encode() if encoding == _JSON else body.SerializeToString()
        self._send(status, data, encoding, extra)

    def _discard_body(self) -> None:
        length = self.headers.get("Content-Length")
        if length and length.isdigit() and int(length) <= self.limit:
            self.rfile.read(int(length))
        else:  # chunked, or too large to read: this connection carries no other request
            self.close_connection = True

    def _plain(self, status: HTTPStatus, text: str, content_type: str = "text/plain; charset=utf-8") -> None:
        self._send(status, text.encode(), content_type)

    def _send(self, status: HTTPStatus, data: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


def _gunzip(data: bytes, limit: int) -> bytes:
    """Decompress every gzip member of ``data``, stopping at ``limit`` bytes of output. It inflates
    1 MiB at a time and joins the pieces only once they are known to fit, so a bomb never costs
    more than the limit and a piece."""
    pieces: list[bytes] = []
    size = 0
    while True:
        inflater = zlib.decompressobj(wbits=31)
        pending = data
        try:
            while pending or not inflater.eof:
                piece = inflater.decompress(pending, _PIECE)
                if not piece and not inflater.unconsumed_tail:
                    break  # everything given was consumed: the member is complete or truncated
                pieces.append(piece)
                size += len(piece)
                if size > limit:
                    raise RequestTooLarge(f"request decompresses to more than the limit of {limit} bytes")
                pending = inflater.unconsumed_tail
        except zlib.error as e:
            raise BadRequest(f"body is not valid gzip: {e}") from None
        if not inflater.eof:
            raise BadRequest("gzip body is truncated")
        data = inflater.unused_data
        if not data:
            return b"".join(pieces)


def _quiet_error(request: object, client_address: object) -> None:
    """A connection that failed (a handshake timed out, a client went away): logged, not printed."""
    log.debug("http connection from %s failed", client_address, exc_info=True)
