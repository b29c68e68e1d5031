"""Errors to wire statuses, and wire statuses to "retry or not": one table each way.

The receiver raises (or lets through) the errors of ``chatsnapshot.errors`` and
maps them here, at the edge, for both transports:

==========================  ===================================  =====================================
error                       gRPC                                 HTTP
==========================  ===================================  =====================================
``Unauthenticated``         UNAUTHENTICATED                      401 + ``WWW-Authenticate: Bearer``
``UnsupportedContentType``  INVALID_ARGUMENT                     415
``BadRequest``              INVALID_ARGUMENT                     400
``RequestTooLarge``         RESOURCE_EXHAUSTED (no RetryInfo)    413
``DeadlineExpired``         DEADLINE_EXCEEDED                    504
``RetryableError``          UNAVAILABLE + RetryInfo              503 + ``Retry-After``
anything else (a bug)       INTERNAL                             500
==========================  ===================================  =====================================

RetryInfo travels in both ``grpc-status-details-bin`` (a ``google.rpc.Status``)
and ``google.rpc.retryinfo-bin`` (the form the Python OTLP exporter reads).

The other direction, for clients of an OTLP endpoint (the spool's sender):
which answers mean "send the same request again later" (the OTLP
specification's retryable codes, plus UNAUTHENTICATED / 401 / 403 because a
token can be rotated while requests wait on disk) and which mean "refused for
good".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from http import HTTPStatus

import grpc
from google.protobuf.duration_pb2 import Duration
from google.rpc import code_pb2, error_details_pb2, status_pb2

from chatsnapshot.errors import (
    BadRequest,
    DeadlineExpired,
    RequestTooLarge,
    RetryableError,
    Unauthenticated,
    UnsupportedContentType,
)

__all__ = [
    "RETRYABLE_GRPC",
    "RETRYABLE_HTTP",
    "WireStatus",
    "grpc_retryable",
    "http_retryable",
    "retry_after_header",
    "retry_trailers",
    "wire_status",
]


@dataclass(frozen=True, slots=True)
class WireStatus:
    """How one error is answered: the gRPC status, the HTTP status, the ``google.rpc.Code``
    for an HTTP error body, and the retry delay (seconds) when the client should retry."""

    grpc: grpc.StatusCode
    http: HTTPStatus
    rpc_code: int
    retry_after: float | None = None
    outcome: str = "internal"  # the ``outcome`` label of the requests metric


_TABLE: tuple[tuple[type[BaseException], grpc.StatusCode, HTTPStatus, int, str], ...] = (
    (Unauthenticated, grpc.StatusCode.UNAUTHENTICATED, HTTPStatus.UNAUTHORIZED, code_pb2.UNAUTHENTICATED,
     "unauthenticated"),
    (UnsupportedContentType, grpc.StatusCode.INVALID_ARGUMENT, HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
     code_pb2.INVALID_ARGUMENT, "invalid"),
    (BadRequest, grpc.StatusCode.INVALID_ARGUMENT, HTTPStatus.BAD_REQUEST, code_pb2.INVALID_ARGUMENT, "invalid"),
    (RequestTooLarge, grpc.StatusCode.RESOURCE_EXHAUSTED, HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
     code_pb2.RESOURCE_EXHAUSTED, "too_large"),
    (DeadlineExpired, grpc.StatusCode.DEADLINE_EXCEEDED, HTTPStatus.GATEWAY_TIMEOUT, code_pb2.DEADLINE_EXCEEDED,
     "expired"),
    (RetryableError, grpc.StatusCode.UNAVAILABLE, HTTPStatus.SERVICE_UNAVAILABLE, code_pb2.UNAVAILABLE,
     "unavailable"),
)


def wire_status(error: BaseException, default_retry_after: float) -> WireStatus:
    """The answer to a request that failed with ``error``; a retryable error without a
    delay of its own gets ``default_retry_after`` (the receiver's ``--retry-after``)."""
    for kind, code, http, rpc_code, outcome in _TABLE:
        if isinstance(error, kind):
            delay = None
            if isinstance(error, RetryableError):
                delay = error.retry_after if error.retry_after is not None else default_retry_after
            return WireStatus(code, http, rpc_code, delay, outcome)
    return WireStatus(grpc.StatusCode.INTERNAL, HTTPStatus.INTERNAL_SERVER_ERROR, code_pb2.INTERNAL)


def retry_trailers(message: str, delay: float) -> tuple[tuple[str, bytes], ...]:
    """The trailing metadata that tells a gRPC client when to retry."""
    info = error_details_pb2.RetryInfo(retry_delay=Duration(seconds=int(delay), nanos=int(delay % 1 * 1e9)))
    status = status_pb2.Status(code=code_pb2.UNAVAILABLE, message=message)
    status.details.add().Pack(info)
    return (("grpc-status-details-bin", status.SerializeToString()),
            ("google.rpc.retryinfo-bin", info.SerializeToString()))


def retry_after_header(delay: float) -> str:
    """``Retry-After`` in whole seconds, at least 1."""
    return str(max(1, math.ceil(delay)))


# -- the client's side ---------------------------------------------------------------

RETRYABLE_GRPC = frozenset({
    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED,
    grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAUTHENTICATED,
})
"""gRPC codes after which a client sends the same request again. RESOURCE_EXHAUSTED
is retryable only when the server sent RetryInfo (OTLP: it says the server recovers)."""

RETRYABLE_HTTP = frozenset({HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN, HTTPStatus.REQUEST_TIMEOUT,
                            HTTPStatus.TOO_MANY_REQUESTS})
"""HTTP statuses after which a client sends the same request again (and every 5xx)."""


def grpc_retryable(code: grpc.StatusCode, has_retry_info: bool) -> bool:
    """Whether a client should send the same request again after ``code``."""
    return code in RETRYABLE_GRPC or (code is grpc.StatusCode.RESOURCE_EXHAUSTED and has_retry_info)


def http_retryable(status: int) -> bool:
    """Whether a client should send the same request again after HTTP ``status``."""
    return status in RETRYABLE_HTTP or status >= 500
