"""Helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from chatsnapshot import environment_variables
from chatsnapshot.environment_variables import CHATSNAPSHOT_SIGNING_KEY, CHATSNAPSHOT_TOKEN
from chatsnapshot.errors import PermanentError
from chatsnapshot.ledger import Envelope, Ledger, LedgerReader, LedgerUnion
from chatsnapshot.ledger.ids import runs_named
from chatsnapshot.ledger.timestamps import parse_rfc3339_ns

if TYPE_CHECKING:
    from chatsnapshot.receiver.client import LedgerClient

T = TypeVar("T")

__all__ = [
    "EXIT_ERROR",
    "EXIT_NO",
    "UserError",
    "add_run_arguments",
    "add_server_argument",
    "connect",
    "database_message",
    "ledger_path",
    "ledger_paths",
    "non_negative",
    "open_reader",
    "open_readers",
    "open_writer",
    "remote",
    "resolve_remote_run",
    "resolve_run",
    "run_envelopes",
    "since_ns",
    "write_text",
]

EXIT_NO = 1  # the answer is no: a broken chain, a conflict
EXIT_ERROR = 2  # the command could not do its work

log = logging.getLogger("chatsnapshot.cli")


class UserError(PermanentError):
    """A problem the user can fix; printed as one line."""


def ledger_paths(args: argparse.Namespace) -> list[str]:
    """Every --ledger (an @FILE names one directory per line; # starts a comment), else
    $CHATSNAPSHOT_LEDGER, else ./chatsnapshot-ledger."""
    paths: list[str] = []
    for value in getattr(args, "ledger", None) or []:
        if value.startswith("@"):
            try:
                lines = Path(value[1:]).read_text(encoding="utf-8").splitlines()
            except OSError as e:
                raise UserError(f"cannot read the list of ledgers {value[1:]}: {e.strerror}") from None
            paths += [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]
        else:
            paths.append(value)
    return paths or [str(environment_variables.ledger_path())]


def ledger_path(args: argparse.Namespace) -> str:
    """The one --ledger of a command that reads or writes one ledger (a UserError for several)."""
    paths = ledger_paths(args)
    if len(paths) > 1:
        raise UserError(f"'chatsnapshot {args.command}' works on one ledger; give one --ledger "
                        "(sql, runs, replay and verify read several)")
    return paths[0]


def open_reader(args: argparse.Namespace) -> LedgerReader:
    """The ledger, read-only: works while a writer (e.g. the receiver) runs."""
    ledger = Ledger.open(ledger_path(args), readonly=True)
    _warn_recovery(ledger)
    return ledger


def open_readers(args: argparse.Namespace) -> LedgerReader | LedgerUnion:
    """The ledger, or the ledgers given read as one (``LedgerUnion``), read-only."""
    paths = ledger_paths(args)
    if len(paths) == 1:
        return open_reader(args)
    union = LedgerUnion.open(paths)
    for reader in union.readers:
        _warn_recovery(reader)
    return union


def _warn_recovery(ledger: LedgerReader) -> None:
    for line in ledger.recovery.lines():  # damage is news to whoever reads: always said, on stderr
        print(f"chatsnapshot: warning: {ledger.path}: {line}", file=sys.stderr)


def signing_key_path(args: argparse.Namespace) -> str | None:
    """--signing-key, else $CHATSNAPSHOT_SIGNING_KEY, else None (unsigned)."""
    return getattr(args, "signing_key", None) or os.environ.get(CHATSNAPSHOT_SIGNING_KEY) or None


def open_writer(args: argparse.Namespace, *, existing: bool = False) -> Ledger:
    """The ledger as its one writer: created if missing, unless ``existing`` (then a
    missing ledger is the user's mistake, as for a reader)."""
    if existing:
        LedgerReader.open(ledger_path(args)).close()  # LedgerNotFoundError: nothing is created
    return Ledger.open(ledger_path(args))


def since_ns(text: str | None, flag: str = "--since") -> int | None:
    """An RFC 3339 time given to ``flag`` in nanoseconds (None stays None); a UserError otherwise."""
    if text is None:
        return None
    try:
        return parse_rfc3339_ns(text)
    except ValueError:
        raise UserError(f"{flag} {text!r} is not an RFC 3339 time like 2026-12-01T14:00:00Z") from None


def database_message(error: Exception) -> str:
    """DuckDB's message whole, hints included ("Did you mean ...", candidate bindings), on one line."""
    return " ".join(str(error).split())


def non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def add_server_argument(p: argparse.ArgumentParser,
                        what: str = "ask a running receiver (chatsnapshot serve, its gRPC port)") -> None:
    p.add_argument("--server", metavar="HOST:PORT",
                   help=f"{what} instead of reading --ledger; sends ${CHATSNAPSHOT_TOKEN} as the bearer token when "
                        "set")
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


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """The run to read: CORRELATION_ID (or a unique prefix or suffix of it), from --ledger or --server."""
    p.add_argument("correlation_id", metavar="ID", help=RUN_HELP)
    add_server_argument(p)


RUN_HELP = ("the run's correlation id, or enough of its start or end to be unique (UUIDv7 ids of one minute "
            "share their start: their end tells them apart); 'chatsnapshot runs' lists them")


def resolve_run(ledger: LedgerReader | LedgerUnion, wanted: str, *, missing_ok: bool = False) -> str:
    """The correlation id ``wanted`` names: itself, else the one run it is a unique prefix or
    suffix of. A UserError (exit 2) for several, and for none unless ``missing_ok`` (then
    ``wanted`` itself: the caller says what no envelopes means)."""
    if ledger.holds(wanted):
        return wanted
    return _one_run(wanted, [r.correlation_id for r in ledger.runs()], str(ledger.path), missing_ok=missing_ok)


def resolve_remote_run(client: LedgerClient, wanted: str, server: str, *, missing_ok: bool = False) -> str:
    """``resolve_run`` against a running receiver (its Runs RPC)."""
    ids = [r.correlation_id for r in remote(client.runs, server)]
    return wanted if wanted in ids else _one_run(wanted, ids, server, missing_ok=missing_ok)


def _one_run(wanted: str, ids: list[str], where: str, *, missing_ok: bool) -> str:
    matches = runs_named(wanted, ids)
    if len(matches) > 1:
        part = ("the start" if all(m.startswith(wanted) for m in matches) else
                "the end" if all(m.endswith(wanted) for m in matches) else "the start or end")
        raise UserError(f"{wanted!r} is {part} of {len(matches)} runs ({', '.join(matches[:3])}"
                        f"{', ...' if len(matches) > 3 else ''}): give more of the id")
    if not matches:
        if missing_ok:
            return wanted
        raise UserError(f"no run {wanted!r} in {where} ('chatsnapshot runs' lists them)")
    return matches[0]


def run_envelopes(args: argparse.Namespace) -> list[Envelope]:
    """The envelopes of the run ``args.correlation_id`` names, in seq order; a UserError when
    there are none or the prefix is ambiguous."""
    wanted = args.correlation_id
    if args.server:
        with connect(args) as client:
            run_id = resolve_remote_run(client, wanted, args.server)
            envelopes = remote(lambda: list(client.replay(run_id)), args.server)
        where = args.server
    else:
        with open_reader(args) as ledger:
            envelopes = list(ledger.replay(resolve_run(ledger, wanted)))
        where = str(ledger.path)
    if not envelopes:
        raise UserError(f"no run {wanted!r} in {where} ('chatsnapshot runs' lists them)")
    return envelopes


def write_text(text: str, output: str | None) -> None:
    """``text`` to the file ``output`` (replaced), or to stdout."""
    if output is None or output == "-":
        sys.stdout.write(text)
        return
    with open(output, "w", encoding="utf-8") as f:
        f.write(text)
