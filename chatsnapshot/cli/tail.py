"""chatsnapshot tail: follow new envelopes, of every run, as they commit."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator

from chatsnapshot.cli import common
from chatsnapshot.cli.output import add_format_argument, write_jsonl
from chatsnapshot.ledger import Envelope, envelope_to_json
from chatsnapshot.ledger.timestamps import format_rfc3339_ns

_POLL_SECONDS = 0.25


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "tail", parents=[parent], help="follow new envelopes as they commit",
        description="Print envelopes in commit (position) order as they arrive, from a running receiver "
                    "(--server) or by watching the ledger directory (a running writer's WAL included): either way "
                    "everything durable, at once. Ctrl-C stops.",
    )
    p.add_argument("--after-position", type=common.non_negative, default=None, metavar="N",
                   help="start after this ledger position (default: the current end; 0: from the beginning)")
    p.add_argument("--count", type=common.non_negative, default=None, metavar="N",
                   help="exit after N envelopes")
    add_format_argument(p, ("table", "jsonl"), aliases={"line": "table"})
    common.add_server_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    printed = 0
    try:
        for envelope in _follow(args):
            if args.format == "jsonl":
                write_jsonl([envelope_to_json(envelope)])
            else:
                print(f"{envelope.position:>10}  {format_rfc3339_ns(envelope.occurred_at)}  "
                      f"{envelope.correlation_id}  #{envelope.seq}  {envelope.event_type}  "
                      f"{envelope.source.agent or envelope.source.origin}")
            sys.stdout.flush()
            printed += 1
            if args.count is not None and printed >= args.count:
                break
    except KeyboardInterrupt:
        pass
    return 0


def _follow(args: argparse.Namespace) -> Iterator[Envelope]:
    if args.server:
        with common.connect(args) as client:
            yield from common.remote_iter(client.tail(args.after_position), args.server)
        raise common.UserError(f"the receiver at {args.server} ended the stream (it is shutting down); "
                               "nothing more will arrive from it")
    with common.open_reader(args) as ledger:
        position = ledger.last_position if args.after_position is None else args.after_position
        while True:
            batch = ledger.since(position, 512)
            yield from batch
            if batch:
                position = batch[-1].position or position
            else:
                time.sleep(_POLL_SECONDS)
