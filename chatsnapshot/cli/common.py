"""Helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from chatsnapshot import environment_variables
from chatsnapshot.environment_variables import CHATSNAPSHOT_TOKEN
from chatsnapshot.ledger import Ledger

if TYPE_CHECKING:
    from chatsnapshot.receiver.client import LedgerClient

T = TypeVar("T")

__all__ = [
    "EXIT_ERROR", "EXIT_NO", "UserError", "add_server_argument", "connect", "ledger_path", "non_negative",
    "open_reader", "open_writer", "remote",
]

EXIT_NO = 1  # the answer is no: a broken chain, a conflict
EXIT_ERROR = 2  # the command could not do its work

log = logging.getLogger("chatsnapshot.cli")


class UserError(Exception):
    """A problem the user can fix; printed as one line."""


def ledger_path(args: argparse.Namespace) -> str:
    """--ledger, else $CHATSNAPSHOT_LEDGER, else ./chatsnapshot-ledger."""
    return str(environment_variables.ledger_path(getattr(args, "ledger", None)))


def open_reader(args: argparse.Namespace) -> Ledger:
    """The ledger, read-only: works while a writer (e.g. the receiver) runs."""
    ledger = Ledger.open(ledger_path(args), readonly=True)
    for line in ledger.recovery.lines():
        log.warning("%s", line)
    return ledger


def open_writer(args: argparse.Namespace) -> Ledger:
    """The ledger as its one writer (created if missing)."""
    return Ledger.open(ledger_path(args))


def non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def add_server_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", metavar="HOST:PORT",
                   help=f"ask a running receiver (chatsnapshot serve, its gRPC port) instead of reading --ledger; "
                        f"sends ${CHATSNAPSHOT_TOKEN} as the bearer token when set")
    p.add_argument("--server-ca", metavar="PEM", help="the CA that signed the receiver's TLS certificate")


def connect(args: argparse.Namespace) -> LedgerClient:
    from chatsnapshot.receiver.client import LedgerClient

    return LedgerClient(args.server, token=os.environ.get(CHATSNAPSHOT_TOKEN), ca_file=args.server_ca)


def remote(call: Callable[[], T], server: str) -> T:
    """Run ``call``, turning gRPC failures into one clear line."""
    import grpc

    try:
        return call()
    except grpc.RpcError as e:
        raise _remote_error(e, server) from None


def remote_iter(items: Iterator[T], server: str) -> Iterator[T]:
    """``items``, turning gRPC failures while iterating into one clear line."""
    import grpc

    try:
        yield from items
    except grpc.RpcError as e:
        raise _remote_error(e, server) from None


def _remote_error(e: Any, server: str) -> UserError:
    import grpc

    code = e.code()
    if code is grpc.StatusCode.UNAVAILABLE:
        return UserError(f"no receiver answering at {server} (is 'chatsnapshot serve' running there?)")
    if code is grpc.StatusCode.UNAUTHENTICATED:
        return UserError(f"{server} refused the token: set {CHATSNAPSHOT_TOKEN} to a token it accepts")
    return UserError(f"{server}: {code.name}: {e.details()}")
