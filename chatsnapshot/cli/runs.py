"""chatsnapshot runs: one line per correlation."""

from __future__ import annotations

import argparse

from chatsnapshot.cli import common
from chatsnapshot.cli.output import add_format_argument, emit, print_table
from chatsnapshot.ledger.timestamps import format_rfc3339_ns


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "runs", parents=[parent], help="list the correlations (runs) in the ledger",
        description="List every correlation: first and last occurred_at, envelope count, last event type, and "
                    "the conversation it belongs to when a producer said (gen_ai.conversation.id, session.id).",
    )
    add_format_argument(p, ("table", "json", "jsonl", "csv"))
    common.add_server_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.server:
        with common.connect(args) as client:
            runs = common.remote(client.runs, args.server)
    else:
        with common.open_readers(args) as ledger:
            runs = ledger.runs()
    if args.format != "table":
        columns = ("correlation_id", "first_occurred_at", "last_occurred_at", "envelopes", "event_types",
                   "last_event_type", "last_seq", "conversation_id", "forked_from")
        emit(args.format, columns, [(r.correlation_id, format_rfc3339_ns(r.first_occurred_at),
                                     format_rfc3339_ns(r.last_occurred_at), r.envelopes, r.event_types,
                                     r.last_event_type, r.last_seq, r.conversation_id, r.forked_from) for r in runs])
    else:
        head: tuple[str, ...] = ("correlation_id", "first_occurred_at", "last_occurred_at", "envelopes",
                                 "last_event_type")
        conversations = any(r.conversation_id for r in runs)  # GenAI / OpenInference runs: which one
        if conversations:
            head += ("conversation",)
        forks = any(r.forked_from for r in runs)  # lineage: the run each fork came from
        if forks:
            head += ("forked_from",)
        rows = [(r.correlation_id, format_rfc3339_ns(r.first_occurred_at), format_rfc3339_ns(r.last_occurred_at),
                 r.envelopes, r.last_event_type, *((r.conversation_id or "",) if conversations else ()),
                 *((r.forked_from or "",) if forks else ()))
                for r in runs]
        print_table(head, rows)
    return 0
