"""chatsnapshot verify: recompute every hash chain; exit 1 on any break."""

from __future__ import annotations

import argparse
from pathlib import Path

from chatsnapshot.cli import common
from chatsnapshot.errors import CheckpointError, RoutingError
from chatsnapshot.ledger import CheckpointReport, LedgerReader
from chatsnapshot.ledger.checkpoint import VerifierKey


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "verify", parents=[parent], help="check every hash chain and segment file",
        description="Recompute every correlation's SHA-256 chain; check every segment and index against the "
                    "checksums the MANIFEST recorded, every index range against the rows it names, and that "
                    "positions run 1..N without a gap. Exit 0 when everything holds; exit 1 and one line per "
                    "break (naming the correlation and the first broken seq, or the file) otherwise; exit 2 for "
                    "a run the ledger does not hold.",
    )
    p.add_argument("correlation_id", nargs="?", metavar="CORRELATION_ID",
                   help="check only this run: " + common.RUN_HELP)
    p.add_argument("--checkpoint", metavar="FILE",
                   help="also prove that the ledger extends this checkpoint (chatsnapshot checkpoint): catches "
                        "any change before it, even one with every hash recomputed")
    p.add_argument("--key", metavar="PUB", help="the checkpoint's verifier key (keygen's FILE.pub, or its text)")
    common.add_server_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    extends: CheckpointReport | None = None
    if args.checkpoint and (args.server or args.correlation_id or len(common.ledger_paths(args)) > 1):
        raise common.UserError("--checkpoint covers the whole of one ledger: give no CORRELATION_ID, no --server, "
                               "one --ledger")
    if args.server:
        with common.connect(args) as client:
            run_id = (common.resolve_remote_run(client, args.correlation_id, args.server)
                      if args.correlation_id else None)
            report = common.remote(lambda: client.verify(run_id), args.server)
    else:
        with common.open_readers(args) as ledger:
            try:
                run_id = common.resolve_run(ledger, args.correlation_id) if args.correlation_id else None
            except RoutingError:  # split between ledgers: the answer is no, and verify says where (a break)
                run_id = args.correlation_id
            report = ledger.verify(run_id)
            if args.checkpoint and isinstance(ledger, LedgerReader):
                extends = _extends(ledger, args)
    if args.correlation_id and report.correlations == 0 and not report.breaks:
        raise common.UserError(f"there is no run {args.correlation_id!r} in the ledger; "
                               "`chatsnapshot runs` lists them")
    for b in report.breaks:
        print(f"BROKEN correlation {b.correlation_id} seq {b.seq}: {b.reason}")
    for p in report.problems:
        print(f"BROKEN file {p.file}: {p.reason}")
    if extends is not None:
        for problem in extends.problems:
            print(f"BROKEN checkpoint {args.checkpoint}: {problem}")
    if report.ok and (extends is None or extends.ok):
        print(f"ok: {_count(report.envelopes, 'envelope')} in {_count(report.correlations, 'correlation')}, "
              "every chain holds")
        if report.erased:
            print(f"erased: {_count(report.erased, 'payload')} (chatsnapshot erase), each recorded by a "
                  "system.erasure fact; their hashes still hold")
        if extends is None:
            print("not seen by this check: a run or the whole ledger rewritten consistently (every hash, the "
                  "index and the MANIFEST recomputed); only a checkpoint kept elsewhere shows that (--checkpoint)")
        else:
            signed = f"signed by {extends.signed_by}" if extends.signed_by else "its signature NOT checked (no --key)"
            print(f"ok: the ledger extends the checkpoint of {_count(extends.size, 'envelope')} ({signed})")
        return 0
    print(f"{len(report.breaks)} broken chain(s), {len(report.problems)} file problem(s) "
          f"in {report.envelopes} envelopes checked")
    return common.EXIT_NO


def _extends(ledger: LedgerReader, args: argparse.Namespace) -> CheckpointReport:
    try:
        note = Path(args.checkpoint).read_text()
    except OSError as e:
        raise common.UserError(f"cannot read the checkpoint {args.checkpoint}: {e.strerror}") from None
    key = VerifierKey.load(args.key) if args.key else None
    try:
        return ledger.verify_checkpoint(note, key)
    except CheckpointError as e:  # a forged or altered checkpoint: the answer is no
        return CheckpointReport(0, problems=[str(e)])


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
