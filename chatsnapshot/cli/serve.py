"""chatsnapshot serve: the OTLP receiver (gRPC and HTTP) in front of a ledger."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from chatsnapshot.cli import common


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "serve", parents=[parent], help="receive OTLP traces and logs, commit their facts to the ledger",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run the OTLP receiver: OTLP/gRPC (TraceService, LogsService; MetricsService accepted and "
                    "discarded) and OTLP/HTTP (/v1/traces, /v1/logs), promoting span events and log records "
                    "that carry chatsnapshot.* attributes into envelopes. A request is answered with success "
                    "only once its envelopes are durable.",
        epilog="Every flag has an environment variable CHATSNAPSHOT_<NAME> (e.g. CHATSNAPSHOT_GRPC); a flag "
               "beats the variable.\nHealth: gRPC grpc.health.v1, HTTP /healthz and /readyz; Prometheus "
               "metrics at HTTP /metrics.\nSIGTERM or SIGINT: stop accepting, finish requests in flight, seal, "
               "exit 0.",
    )
    p.add_argument("--grpc", metavar="HOST:PORT", help="OTLP/gRPC address, or 'off' (default 127.0.0.1:4317)")
    p.add_argument("--http", metavar="HOST:PORT", help="OTLP/HTTP address, or 'off' (default 127.0.0.1:4318)")
    p.add_argument("--max-request-bytes", metavar="N",
                   help="largest request accepted, after decompression (default 67108864)")
    p.add_argument("--max-pending-bytes", metavar="N",
                   help="bytes of requests in flight, admitted before any decoding (default 67108864); beyond "
                        "it clients get UNAVAILABLE / 503 with a retry delay that grows with the backlog")
    p.add_argument("--max-queue-delay", metavar="SECONDS",
                   help="work admitted ahead of a request, in seconds at the measured rate, at most (default 0.5): "
                        "past it clients get UNAVAILABLE / 503 with that wait as the retry delay, so no request "
                        "waits for long inside the receiver")
    p.add_argument("--max-pending", metavar="N",
                   help="envelopes admitted and not yet committed before clients are told to retry (default 65536)")
    p.add_argument("--promote-spans", action="store_const", const=True,
                   help="also promote GenAI semantic-convention spans (invoke_agent, chat, execute_tool, ...) "
                        "into execution.* facts; see the README's mapping table")
    p.add_argument("--rules", dest="rules_file", metavar="FILE",
                   help="a TOML file of span promotion rules (implies --promote-spans)")
    p.add_argument("--token-file", metavar="FILE",
                   help="require 'Authorization: Bearer TOKEN' with one of the tokens in FILE (one per line)")
    # Not an option: without it, argparse would take --token for an abbreviation of --token-file.
    p.add_argument("--token", dest="token_on_command_line", nargs="?", const="", help=argparse.SUPPRESS)
    p.add_argument("--tls-cert", metavar="PEM", help="serve TLS with this certificate chain")
    p.add_argument("--tls-key", metavar="PEM", help="... and this private key")
    p.add_argument("--tls-client-ca", metavar="PEM", help="require client certificates signed by this CA (mTLS)")
    p.add_argument("--forward-otlp", metavar="HOST:PORT",
                   help="after commit, re-export every request unchanged to this OTLP/gRPC endpoint (best effort)")
    p.add_argument("--workers", metavar="N",
                   help="processes that decode and promote requests beside the writer (default: 1 on a "
                        "machine with 2+ cores, else 0: in the receiver's own process)")
    p.add_argument("--signing-key", metavar="FILE",
                   help="sign the checkpoint written after every seal with this key (chatsnapshot keygen); keep "
                        "it outside the ledger directory")
    p.add_argument("--shutdown-grace", metavar="SECONDS", help="time for requests in flight at shutdown (default 10)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chatsnapshot.receiver.server import run as serve

    if args.token_on_command_line is not None:  # never echo what follows: it is a secret
        raise common.UserError("tokens are never given on the command line (ps and shell history show them): "
                               "put them in a file for --token-file, or in $CHATSNAPSHOT_TOKENS")
    from chatsnapshot.receiver.settings import Settings

    flags = {name: getattr(args, name, None) for name in (
        "grpc", "http", "max_request_bytes", "max_pending", "max_pending_bytes", "max_queue_delay", "promote_spans",
        "rules_file", "token_file", "tls_cert", "tls_key", "tls_client_ca", "shutdown_grace", "forward_otlp",
        "workers", "signing_key")}
    flags["ledger"] = common.ledger_path(args) if getattr(args, "ledger", None) else None  # else: env, default
    try:
        settings = Settings.resolve(flags)
    except ValueError as e:
        raise common.UserError(str(e)) from None
    created = not Path(settings.ledger).exists()
    try:
        return serve(settings)
    except (ValueError, OSError) as e:
        if created and _holds_nothing(Path(settings.ledger)):  # a failed start leaves nothing behind
            shutil.rmtree(settings.ledger, ignore_errors=True)
        raise common.UserError(str(e)) from None


def _holds_nothing(ledger: Path) -> bool:
    """Whether a ledger directory holds no fact at all (no segment, every WAL file empty): only then may a
    failed start remove the directory it created. A failure later in the receiver's life keeps everything."""
    if any((ledger / "segments").glob("*.parquet")):
        return False
    return all(f.stat().st_size == 0 for f in (ledger / "wal").glob("*.wal")) if (ledger / "wal").is_dir() else True
