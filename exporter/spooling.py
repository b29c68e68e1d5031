"""``SpoolingOTLPExporter``: OTLP to a remote receiver or collector, through the durable spool.

``export`` encodes the batch as the OTLP request the official exporters send
(same encoder), writes it to the spool (``exporter.spool``, fsync'd) and returns
SUCCESS: the program never waits for the network. A background sender drains
the spool oldest first, to OTLP/gRPC (``protocol="grpc"``) or OTLP/HTTP
(``"http/protobuf"``), and deletes a request only once the receiver
acknowledged it.

Retries follow the one table in ``receiver.status`` (gRPC UNAVAILABLE,
DEADLINE_EXCEEDED, ABORTED, CANCELLED, UNAUTHENTICATED, RESOURCE_EXHAUSTED with
RetryInfo; HTTP 401, 403, 408, 429, 5xx) plus connection failures. The delay is the receiver's RetryInfo /
``Retry-After`` when it sends one, else exponential backoff (0.5 s doubling to
30 s, with jitter). A request refused for good (INVALID_ARGUMENT, 400, 413,
RESOURCE_EXHAUSTED without RetryInfo) is moved to ``rejected/`` and logged, so
one bad request never blocks the rest.

``SpoolingOTLPSpanExporter`` and ``SpoolingOTLPLogExporter`` are the SDK
exporters; both run a ``Sender`` over one ``Spool``.
"""

from __future__ import annotations

import http.client
import logging
import os
import random
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.instrumentation.utils import suppress_http_instrumentation, suppress_instrumentation
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

if TYPE_CHECKING:
    import grpc

from chatsnapshot.errors import DeliveryFailed, DeliveryRefused
from chatsnapshot.exporter.spool import Policy, Spool, SpooledRequest
from chatsnapshot.receiver.otlp import Signal, export_method

__all__ = ["Protocol", "Sender", "SpoolingOTLPLogExporter", "SpoolingOTLPSpanExporter", "Tls"]

log = logging.getLogger("chatsnapshot.exporter")

Protocol = Literal["grpc", "http/protobuf"]
_HTTP_PATHS = {"traces": "/v1/traces", "logs": "/v1/logs"}
_MAX_BACKOFF = 30.0


@dataclass(frozen=True)
class Tls:
    """TLS for the sender: the CA certificates to trust (PEM file; None: the system's), and the
    client's own certificate and key for mTLS."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("a client certificate needs its key and a key its certificate (mTLS: give both)")
        for path in (self.ca_file, self.cert_file, self.key_file):
            if path is not None and not os.access(path, os.R_OK):
                raise ValueError(f"cannot read the TLS file {path} (ca_file / client_cert_file / client_key_file, "
                                 "or OTEL_EXPORTER_OTLP_CERTIFICATE / _CLIENT_CERTIFICATE / _CLIENT_KEY): check the "
                                 "path")

    def grpc_credentials(self) -> Any:
        import grpc

        def read(path: str | None) -> bytes | None:
            return Path(path).read_bytes() if path else None

        return grpc.ssl_channel_credentials(read(self.ca_file), read(self.key_file), read(self.cert_file))

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.cert_file and self.key_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context


class Sender:
    """Drains a spool to ``endpoint`` in a daemon thread, while this process holds the spool's SENDER lock.
    ``tls``: speak TLS (None: plaintext). ``url_is_full``: an HTTP endpoint that names its path already.
    Its own calls are never traced: they run with OpenTelemetry instrumentation suppressed."""

    def __init__(self, spool: Spool, endpoint: str, *, protocol: Protocol = "grpc",
                 headers: Mapping[str, str] | None = None, timeout: float = 10.0, tls: Tls | None = None,
                 url_is_full: bool = False) -> None:
        if protocol not in ("grpc", "http/protobuf"):
            raise ValueError(f"protocol must be 'grpc' or 'http/protobuf', got {protocol!r}")
        self.spool = spool
        self.endpoint = endpoint
        self.protocol = protocol
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.tls = tls
        self.url_is_full = url_is_full
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._channel: grpc.Channel | None = None
        self._warned = False
        self._thread = threading.Thread(target=self._run, name="chatsnapshot-spool-sender", daemon=True)
        self._thread.start()

    def flush(self, timeout: float) -> bool:
        """Wait until the spool is empty (everything acknowledged), up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.spool.pending():
                return True
            self.spool.wait_for_change(0.05)
        return not self.spool.pending()

    def stop(self) -> None:
        """Stop sending (what is spooled stays for the next producer). The SENDER lock is
        released only once no send is in flight, so two senders never overlap."""
        self._stop.set()
        self._thread.join(timeout=2 * self.timeout + 1)
        if self._thread.is_alive():
            return  # still inside a send: the lock goes with this process
        self.spool.release_sender()
        if self._channel is not None:
            self._channel.close()

    # -- the loop ------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._loop()
            except Exception as e:  # never let the sender die holding the SENDER lock
                log.exception("chatsnapshot: spool sender error (%s); retrying in 1s", e)
                self._stop.wait(1.0)

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            if not self.spool.try_become_sender():
                self._stop.wait(1.0)  # another live producer sends from this spool
                continue
            pending = self.spool.pending()
            if not pending:
                self.spool.wait_for_change(0.2)
                continue
            request = pending[0]
            try:
                self._send(request)
            except DeliveryFailed as e:
                failures += 1
                delay = e.retry_after if e.retry_after is not None else min(_MAX_BACKOFF, 0.5 * 2 ** (failures - 1))
                self._warn(f"cannot deliver to {self.endpoint} ({e}); retrying in {delay:.1f}s")
                self._stop.wait(delay * random.uniform(0.9, 1.1) if e.retry_after is None else delay)
                continue
            except DeliveryRefused as e:
                self.spool.reject(request, str(e))
                continue
            except FileNotFoundError:
                continue  # another sender (an earlier holder of the lock) finished it
            failures = 0
            self._warned = False
            self.spool.done(request)

    def _warn(self, message: str) -> None:
        if not self._warned:  # once per outage, not once per attempt
            self._warned = True
            log.warning("chatsnapshot: %s; facts wait in the spool %s", message, self.spool.directory)

    def _send(self, request: SpooledRequest) -> None:
        body = request.read()
        with suppress_instrumentation(), suppress_http_instrumentation():  # no spans of our own export calls
            if self.protocol == "grpc":
                self._send_grpc(request.signal, body)
            else:
                self._send_http(request.signal, body)

    def _send_grpc(self, signal: Signal, body: bytes) -> None:
        import grpc
        from google.rpc import error_details_pb2

        from chatsnapshot.receiver.status import grpc_retryable

        if self._channel is None:
            target = self.endpoint.split("://", 1)[-1].rstrip("/")
            self._channel = (grpc.insecure_channel(target) if self.tls is None
                             else grpc.secure_channel(target, self.tls.grpc_credentials()))
        call: Any = self._channel.unary_unary(export_method(signal), request_serializer=None,
                                         response_deserializer=None)
        try:
            call(body, timeout=self.timeout, metadata=tuple((k.lower(), v) for k, v in self.headers.items()))
        except grpc.RpcError as e:
            code = e.code()
            trailers: dict[str, Any] = {m.key: m.value for m in (e.trailing_metadata() or ())}
            delay = None
            if "google.rpc.retryinfo-bin" in trailers:
                try:
                    info = error_details_pb2.RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"])
                    delay = min(300.0, max(0.0, info.retry_delay.seconds + info.retry_delay.nanos / 1e9))
                except Exception:
                    delay = None  # a malformed trailer: fall back to backoff
            if grpc_retryable(code, has_retry_info=delay is not None):
                raise DeliveryFailed(code.name, delay) from None
            raise DeliveryRefused(f"{code.name}: {e.details()}") from None

    def _send_http(self, signal: str, body: bytes) -> None:
        from chatsnapshot.receiver.status import http_retryable

        url = self.endpoint if self.url_is_full else self.endpoint.rstrip("/") + _HTTP_PATHS[signal]
        headers = {"Content-Type": "application/x-protobuf", **self.headers}
        context = self.tls.ssl_context() if self.tls is not None and url.startswith("https://") else None
        try:
            with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers),
                                        timeout=self.timeout, context=context):
                return
        except urllib.error.HTTPError as e:
            if http_retryable(e.code):
                after = e.headers.get("Retry-After")
                raise DeliveryFailed(f"HTTP {e.code}", float(after) if after and after.isdigit() else None) from None
            raise DeliveryRefused(f"HTTP {e.code}: {e.read()[:200]!r}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            raise DeliveryFailed(str(getattr(e, "reason", e))) from None


def _headers(headers: Mapping[str, str] | None, token: str | None) -> dict[str, str]:
    out = dict(headers or {})
    if token:
        out["authorization"] = f"Bearer {token}"
    return out


class _Spooling:
    def __init__(self, endpoint: str, spool_dir: str | Path, *, protocol: Protocol = "grpc",
                 headers: Mapping[str, str] | None = None, token: str | None = None, max_bytes: int = 256 << 20,
                 policy: Policy = "block", block_timeout: float = 5.0, tls: Tls | None = None,
                 url_is_full: bool = False) -> None:
        self.spool = Spool(spool_dir, max_bytes=max_bytes, policy=policy, block_timeout=block_timeout)
        self.sender = Sender(self.spool, endpoint, protocol=protocol, headers=_headers(headers, token), tls=tls,
                             url_is_full=url_is_full)
        self._shut = False
        self._failed = False

    def _put(self, signal: str, encode: Callable[[], bytes]) -> bool:
        if self._shut:
            return False
        try:
            return self.spool.put(signal, encode())
        except Exception as e:  # the spool's disk, an unencodable batch: never into the program
            if not self._failed:
                self._failed = True
                log.error("chatsnapshot: cannot spool a batch in %s: %s (further errors are not logged)",
                          self.spool.directory, e)
            return False

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Wait until everything spooled so far is acknowledged by the receiver."""
        return self.sender.flush(timeout_millis / 1000)

    def shutdown(self) -> None:
        if not self._shut:
            self._shut = True
            self.sender.stop()


class SpoolingOTLPSpanExporter(_Spooling, SpanExporter):
    """Spans to ``endpoint`` through the durable spool at ``spool_dir``; see the module docstring.
    Keyword arguments: ``protocol``, ``headers``, ``token``, ``max_bytes``, ``policy``, ``block_timeout``,
    ``tls`` (a ``Tls``; None: plaintext), ``url_is_full``."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        ok = self._put("traces", lambda: encode_spans(spans).SerializeToString())
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE


class SpoolingOTLPLogExporter(_Spooling, LogRecordExporter):
    """Log records to ``endpoint`` through the durable spool at ``spool_dir`` (arguments as the span one)."""

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        ok = self._put("logs", lambda: encode_logs(batch).SerializeToString())
        return LogRecordExportResult.SUCCESS if ok else LogRecordExportResult.FAILURE
