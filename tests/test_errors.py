"""One error taxonomy: every error class under exactly one root, one table to the wire."""

from __future__ import annotations

import importlib
import inspect
from http import HTTPStatus

import grpc
import pytest

from chatsnapshot import errors
from chatsnapshot.errors import PermanentError, RetryableError
from chatsnapshot.receiver.status import grpc_retryable, http_retryable, wire_status
from tests.test_imports import _modules


def _error_classes() -> list[type[BaseException]]:
    found = []
    for name in _modules():
        if name.startswith("chatsnapshot.instrumentation.autogen"):
            continue  # imports AG2 0.x, which lives in the other environment
        module = importlib.import_module(name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == name:
                found.append(obj)
    return found


def test_every_error_class_is_permanent_or_retryable() -> None:
    classes = _error_classes()
    assert errors.StoreUnavailableError in classes and errors.BadRequest in classes
    roots = {errors.ChatSnapshotError, PermanentError, RetryableError, errors.LedgerError}
    wrong = [c.__qualname__ for c in classes if c not in roots
             and issubclass(c, PermanentError) == issubclass(c, RetryableError)]
    assert wrong == [], f"under neither or both roots: {wrong}"


def test_errors_are_defined_in_one_module() -> None:
    elsewhere = [f"{c.__module__}.{c.__qualname__}" for c in _error_classes()
                 if c.__module__ != "chatsnapshot.errors" and c.__qualname__ != "UserError"]
    assert elsewhere == []


@pytest.mark.parametrize(("error", "grpc_code", "http_status", "retry_after"), [
    (errors.BadRequest("x"), grpc.StatusCode.INVALID_ARGUMENT, HTTPStatus.BAD_REQUEST, None),
    (errors.UnsupportedContentType("x"), grpc.StatusCode.INVALID_ARGUMENT, HTTPStatus.UNSUPPORTED_MEDIA_TYPE, None),
    (errors.RequestTooLarge("x"), grpc.StatusCode.RESOURCE_EXHAUSTED, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, None),
    (errors.Unauthenticated("x"), grpc.StatusCode.UNAUTHENTICATED, HTTPStatus.UNAUTHORIZED, None),
    (errors.Overloaded("x", 2.5), grpc.StatusCode.UNAVAILABLE, HTTPStatus.SERVICE_UNAVAILABLE, 2.5),
    (errors.StoreUnavailableError("x"), grpc.StatusCode.UNAVAILABLE, HTTPStatus.SERVICE_UNAVAILABLE, 1.0),
    (errors.LedgerClosedError("x"), grpc.StatusCode.UNAVAILABLE, HTTPStatus.SERVICE_UNAVAILABLE, 1.0),
    (errors.WorkerLost("x"), grpc.StatusCode.UNAVAILABLE, HTTPStatus.SERVICE_UNAVAILABLE, 1.0),
    (errors.DeadlineExpired("x"), grpc.StatusCode.DEADLINE_EXCEEDED, HTTPStatus.GATEWAY_TIMEOUT, 1.0),
    (KeyError("a bug"), grpc.StatusCode.INTERNAL, HTTPStatus.INTERNAL_SERVER_ERROR, None),
])
def test_one_table_maps_errors_for_both_transports(error: BaseException, grpc_code: grpc.StatusCode,
                                                   http_status: HTTPStatus, retry_after: float | None) -> None:
    status = wire_status(error, default_retry_after=1.0)
    assert (status.grpc, status.http, status.retry_after) == (grpc_code, http_status, retry_after)


def test_what_a_receiver_answers_retryably_a_client_retries() -> None:
    for error in (errors.Overloaded("x"), errors.StoreUnavailableError("x")):
        status = wire_status(error, 1.0)
        assert grpc_retryable(status.grpc, has_retry_info=True) and http_retryable(status.http)
    for error in (errors.BadRequest("x"), errors.RequestTooLarge("x")):
        status = wire_status(error, 1.0)
        assert not grpc_retryable(status.grpc, has_retry_info=False) and not http_retryable(status.http)
