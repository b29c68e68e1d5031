"""``--forward-otlp HOST:PORT``: re-export every request, after commit, to an upstream OTLP/gRPC endpoint.

So the receiver can sit in front of an existing tracing pipeline. The request
goes upstream unchanged (protobuf bytes as received; an OTLP/JSON request as its
protobuf equivalent). Forwarding never blocks or fails a commit: requests wait
in a bounded in-memory queue drained by one thread, with a few retries; what
cannot be forwarded is counted (``chatsnapshot_forward_failures_total``) and
logged at most once a minute. The ledger has every fact either way: forwarding
is best effort by design, the ledger is the durable copy.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from typing import Any

import grpc

from chatsnapshot.receiver.metrics import Metrics
from chatsnapshot.receiver.otlp import EXPORT_SERVICES, Signal, export_method

__all__ = ["Forwarder"]

log = logging.getLogger("chatsnapshot.receiver")

_RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED}


class Forwarder:
    def __init__(self, target: str, metrics: Metrics, *, capacity: int = 1024, attempts: int = 3,
                 timeout: float = 10.0) -> None:
        self.target = target
        self._metrics = metrics
        self._queue: queue.Queue[tuple[Signal, bytes] | None] = queue.Queue(maxsize=capacity)
        self._attempts = attempts
        self._timeout = timeout
        self._channel = grpc.insecure_channel(target)
        self._calls: dict[Signal, Any] = {s: self._channel.unary_unary(export_method(s), request_serializer=None,
                                                    response_deserializer=None) for s in EXPORT_SERVICES}
        self._last_warning = 0.0
        self._thread = threading.Thread(target=self._run, name="otlp-forward", daemon=True)
        self._thread.start()

    def submit(self, signal: Signal, body: bytes) -> None:
        """Queue a committed request for forwarding; never blocks."""
        try:
            self._queue.put_nowait((signal, body))
        except queue.Full:
            self._failed("forwarding queue full; request not forwarded")

    def close(self, timeout: float = 5.0) -> None:
        """Forward what is queued (up to ``timeout`` seconds), then stop."""
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout)
        self._thread.join(timeout)
        if not self._thread.is_alive():  # never close the channel under a call in flight
            self._channel.close()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            signal, body = item
            for attempt in range(self._attempts):
                try:
                    self._calls[signal](body, timeout=self._timeout)
                    self._metrics.add("forwarded", signal=signal)
                    break
                except grpc.RpcError as e:
                    if e.code() not in _RETRYABLE or attempt + 1 == self._attempts:
                        self._failed(f"upstream {self.target} refused a {signal} request: {e.code().name}")
                        break
                    time.sleep(0.2 * 2 ** attempt)

    def _failed(self, message: str) -> None:
        self._metrics.add("forward_failures")
        now = time.monotonic()
        if now - self._last_warning > 60:
            self._last_warning = now
            log.warning("%s (counted in chatsnapshot_forward_failures_total; the ledger has the facts)", message)
