"""chatsnapshot replay: one correlation's envelopes, in seq order."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Iterator, Mapping

from chatsnapshot.cli import common
from chatsnapshot.cli.output import add_format_argument, emit, print_table, write_jsonl
from chatsnapshot.ledger import Envelope, envelope_to_json
from chatsnapshot.ledger.projections import fact_summary
from chatsnapshot.ledger.projections._facts import lane_of
from chatsnapshot.ledger.timestamps import format_rfc3339_ns

_FOLLOW_POLL = 0.2  # seconds between looks for new facts with --follow


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "replay", parents=[parent], help="print one correlation's envelopes in seq order",
        description="Print the envelopes of one correlation (run, workflow, session) in seq order: a table of "
                    "what each fact says (the message text, a tool's name and arguments, a status), or the full "
                    "envelopes as json, jsonl or csv. Sees everything acknowledged, at once, also while a "
                    "receiver writes the ledger.",
    )
    p.add_argument("correlation_id", metavar="CORRELATION_ID", help=common.RUN_HELP)
    add_format_argument(p, ("table", "json", "jsonl", "csv"))
    p.add_argument("--wide", action="store_true", help="table: the whole payload instead of its summary")
    p.add_argument("--type", action="append", metavar="TYPE",
                   help="only facts of this event type (message, tool_call, or the full execution.message); "
                        "repeat for several")
    p.add_argument("--agent", action="append", metavar="NAME", help="only this agent's facts; repeat for several")
    p.add_argument("--since", metavar="TIME", help="only facts that occurred at or after TIME (RFC 3339)")
    p.add_argument("--after-seq", type=common.non_negative, default=0, metavar="N",
                   help="only envelopes with seq > N (resume a replay)")
    p.add_argument("--follow", action="store_true",
                   help="keep printing the run's new facts as they commit (table or jsonl), until Ctrl-C")
    common.add_server_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.follow and args.format not in ("table", "jsonl"):
        raise common.UserError("--follow prints as facts arrive: use --format table or jsonl")
    since = common.since_ns(args.since)
    with contextlib.ExitStack() as stack:
        return _replay(args, since, *_reader(args, stack))


def _replay(args: argparse.Namespace, since: int | None, read: Callable[[int], list[Envelope]], where: str,
            run_id: str) -> int:
    envelopes = read(args.after_seq)
    if not envelopes and args.after_seq == 0 and not args.follow:
        raise common.UserError(f"no run {args.correlation_id!r} in {where} ('chatsnapshot runs' lists them)")
    agents = {lane_of(e) for e in (envelopes if not args.after_seq else read(0))}  # the whole run's
    for name in args.agent or ():
        if name not in agents and not args.follow:  # --follow: the agent may speak later
            raise common.UserError(f"no agent {name!r} in run {run_id} (its agents: {', '.join(sorted(agents))})")
    keep = _filter(args, since)
    seq_of = {e.event_id: e.seq for e in envelopes}
    shown = [e for e in envelopes if keep(e)]
    if args.format != "table":  # the full envelopes
        documents = [envelope_to_json(e) for e in shown]
        columns = list(documents[0]) if documents else list(envelope_to_json(envelopes[0])) if envelopes else []
        emit(args.format, columns, [tuple(d.get(c) for c in columns) for d in documents])
    else:
        print_table(_HEAD, [_row(e, seq_of, args.wide) for e in shown], elastic="payload" if args.wide else "says")
    if args.follow:
        last = envelopes[-1].seq if envelopes else args.after_seq
        try:
            for e in _follow(read, last or 0):
                seq_of[e.event_id] = e.seq
                if keep(e):
                    if args.format == "jsonl":
                        write_jsonl([envelope_to_json(e)])
                    else:
                        print("  ".join(str(c) for c in _row(e, seq_of, args.wide)))
                    sys.stdout.flush()
        except KeyboardInterrupt:
            pass
    return 0


_HEAD = ("seq", "occurred_at", "type", "agent", "cause", "says")


def _row(e: Envelope, seq_of: Mapping[str, int | None], wide: bool) -> tuple:
    payload = e.payload
    return (e.seq, format_rfc3339_ns(e.occurred_at), e.event_type.removeprefix("execution."), lane_of(e, payload),
            cause_label(e.cause_id or e.causation_id, seq_of), e.payload_json if wide else fact_summary(e, payload))


def _reader(args: argparse.Namespace,
            stack: contextlib.ExitStack) -> tuple[Callable[[int], list[Envelope]], str, str]:
    """A function reading the run after a seq (fresh each call: --follow calls it again), where, the run."""
    if args.server:
        client = stack.enter_context(common.connect(args))
        run_id = common.resolve_remote_run(client, args.correlation_id, args.server, missing_ok=True)
        return (lambda after: common.remote(lambda: list(client.replay(run_id, after_seq=after)), args.server),
                args.server, run_id)
    ledger = common.open_readers(args)
    stack.callback(ledger.close)
    run_id = common.resolve_run(ledger, args.correlation_id, missing_ok=True)  # none: answered by the caller
    return (lambda after: list(ledger.replay(run_id, after_seq=after))), str(ledger.path), run_id


def _follow(read: Callable[[int], list[Envelope]], after: int) -> Iterator[Envelope]:
    while True:
        batch = read(after)
        yield from batch
        if batch:
            after = batch[-1].seq or after
        else:
            time.sleep(_FOLLOW_POLL)


def _filter(args: argparse.Namespace, since: int | None) -> Callable[[Envelope], bool]:
    types = {t if "." in t else f"execution.{t}" for t in args.type or ()}
    agents = set(args.agent or ())

    def keep(e: Envelope) -> bool:
        return ((not types or e.event_type in types) and (not agents or lane_of(e) in agents)
                and (since is None or e.occurred_at >= since))

    return keep


def cause_label(causation_id: str | None, seq_of: Mapping[str, int | None]) -> str:
    """'#4' when the cause is seq 4 of this run, else the end of its id (the
    start of a UUIDv7 is a timestamp, shared by every fact of the same moment)."""
    if causation_id is None:
        return "-"
    seq = seq_of.get(causation_id)
    return f"#{seq}" if seq is not None else f"…{causation_id[-8:]}"
