"""chatsnapshot replay: one correlation's envelopes, in seq order."""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from chatsnapshot.cli import common
from chatsnapshot.cli.output import add_format_argument, emit, print_table
from chatsnapshot.ledger import envelope_to_json
from chatsnapshot.ledger.timestamps import format_rfc3339_ns


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "replay", parents=[parent], help="print one correlation's envelopes in seq order",
        description="Print the envelopes of one correlation (run, workflow, session) in seq order. "
                    "Sees everything acknowledged, at once, also while a receiver writes the ledger.",
    )
    p.add_argument("correlation_id", metavar="CORRELATION_ID", help=common.RUN_HELP)
    add_format_argument(p, ("table", "json", "jsonl", "csv"))
    p.add_argument("--after-seq", type=common.non_negative, default=0, metavar="N",
                   help="only envelopes with seq > N (resume a replay)")
    common.add_server_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.server:
        with common.connect(args) as client:
            run_id = common.resolve_remote_run(client, args.correlation_id, args.server, missing_ok=True)
            envelopes = common.remote(lambda: list(client.replay(run_id, after_seq=args.after_seq)), args.server)
        where = args.server
    else:
        with common.open_readers(args) as ledger:
            run_id = common.resolve_run(ledger, args.correlation_id, missing_ok=True)  # none: answered below
            envelopes = list(ledger.replay(run_id, after_seq=args.after_seq))
        where = str(ledger.path)
    if not envelopes and args.after_seq == 0:
        raise common.UserError(f"no run {args.correlation_id!r} in {where} ('chatsnapshot runs' lists them)")
    if args.format != "table":  # the full envelopes
        documents = [envelope_to_json(e) for e in envelopes]
        columns = list(documents[0]) if documents else []
        emit(args.format, columns, [tuple(d.get(c) for c in columns) for d in documents])
    else:
        seq_of = {e.event_id: e.seq for e in envelopes}
        rows = [
            (e.seq, format_rfc3339_ns(e.occurred_at), e.event_type, e.source.agent or e.source.origin,
             cause_label(e.cause_id or e.causation_id, seq_of), e.payload_json)
            for e in envelopes
        ]
        print_table(("seq", "occurred_at", "event_type", "agent", "cause", "payload"), rows, elastic="payload")
    return 0


def cause_label(causation_id: str | None, seq_of: Mapping[str, int | None]) -> str:
    """'#4' when the cause is seq 4 of this run, else the end of its id (the
    start of a UUIDv7 is a timestamp, shared by every fact of the same moment)."""
    if causation_id is None:
        return "-"
    seq = seq_of.get(causation_id)
    return f"#{seq}" if seq is not None else f"…{causation_id[-8:]}"
