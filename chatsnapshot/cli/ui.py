"""chatsnapshot ui: the web UI over one or several ledgers, or a running receiver."""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
import time

from chatsnapshot.cli import common
from chatsnapshot.environment_variables import CHATSNAPSHOT_TOKEN, CHATSNAPSHOT_TOKENS

DEFAULT_LISTEN = "127.0.0.1:8080"


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "ui", parents=[parent], help="serve the web UI: runs, a run's conversation, timeline and DAG, SQL, verify",
        description="Serve a read-only web app over the ledger (--ledger, repeatable: several read as one) or a "
                    "running receiver (--server): the runs table with search and filters, each run's "
                    "conversation, timeline, causal DAG, facts, tokens and cost, SQL and verify, updated live as "
                    "facts commit. Every asset is served by this process; the page fetches nothing else.",
        epilog=f"example: chatsnapshot ui --ledger ./chatsnapshot-ledger   (then open http://{DEFAULT_LISTEN}/)",
    )
    p.add_argument("--listen", metavar="HOST:PORT", default=DEFAULT_LISTEN,
                   help=f"where to listen (default {DEFAULT_LISTEN}: this machine only; another address needs "
                        "--token-file)")
    p.add_argument("--token-file", metavar="FILE",
                   help=f"require one of these tokens (one per line; default ${CHATSNAPSHOT_TOKENS}): a browser "
                        "logs in once at /login, programs send 'Authorization: Bearer TOKEN'")
    common.add_server_argument(p, "read a running receiver (chatsnapshot serve, its gRPC port)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chatsnapshot.receiver.settings import parse_endpoint, resolve_tokens

    try:
        endpoint = parse_endpoint(args.listen, "--listen")
        tokens = resolve_tokens(args.token_file)
    except ValueError as e:
        raise common.UserError(str(e)) from None
    if endpoint is None:
        raise common.UserError("--listen off: the UI needs an address")
    host, port = endpoint
    if not tokens and not _loopback(host):
        raise common.UserError(f"--listen {args.listen} opens the ledger beyond this machine: give --token-file "
                               f"(or ${CHATSNAPSHOT_TOKENS}), or listen on 127.0.0.1")
    _check_free(host, port, args.listen)
    state = _state(args)
    started = time.monotonic()
    print(f"chatsnapshot ui: reading {state.source.name} …", file=sys.stderr, flush=True)
    if not state.start(wait=600):
        print("chatsnapshot ui: still reading the ledger; the runs table fills as it goes", file=sys.stderr)
    print(f"chatsnapshot ui: {len(state.index.ids()):,} runs indexed in {time.monotonic() - started:.1f} s; "
          f"open http://{host if ':' not in host else f'[{host}]'}:{port}/ (Ctrl+C stops)", file=sys.stderr, flush=True)
    import uvicorn

    from chatsnapshot.ui import create_app

    try:
        hosts = None if host in ("0.0.0.0", "::", "") else frozenset({host, "localhost", "127.0.0.1", "::1"})
        uvicorn.run(create_app(state, tokens=tokens, hosts=hosts), host=host, port=port, log_level="warning",
                    access_log=False, timeout_graceful_shutdown=2)
    finally:
        state.close()
    return 0


def _state(args: argparse.Namespace):  # -> UiState (imported late: the UI's stack loads only for `ui`)
    from chatsnapshot.receiver.settings import resolve_tokens
    from chatsnapshot.ui import LocalSource, RemoteSource, UiState

    if args.server:
        if getattr(args, "ledger", None):
            raise common.UserError("give --ledger or --server, not both")
        if os.environ.get(CHATSNAPSHOT_TOKEN) and not resolve_tokens(args.token_file):
            print(f"chatsnapshot ui: warning: this UI asks {args.server} with ${CHATSNAPSHOT_TOKEN} for anyone who "
                  "reaches it, and has no tokens of its own (--token-file)", file=sys.stderr)
        return UiState(RemoteSource(args.server, token=os.environ.get(CHATSNAPSHOT_TOKEN), ca_file=args.server_ca))
    from chatsnapshot.ledger import LedgerNotFoundError

    try:
        return UiState(LocalSource(common.ledger_paths(args)))
    except LedgerNotFoundError as e:
        raise common.UserError(str(e)) from None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_free(host: str, port: int, listen: str) -> None:
    """Say in one line, before reading anything, that the address is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            raise common.UserError(f"cannot listen on {listen} (--listen): {e.strerror}") from None
