"""chatsnapshot verify: recompute every hash chain; exit 1 on any break."""

from __future__ import annotations

import argparse

from chatsnapshot.cli import common


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "verify", parents=[parent], help="check every hash chain and segment file",
        description="Recompute every correlation's SHA-256 chain; check every segment and index against the "
                    "checksums the MANIFEST recorded, every index range against the rows it names, and that "
                    "positions run 1..N without a gap. Exit 0 when everything holds; exit 1 and one line per "
                    "break (naming the correlation and the first broken seq, or the file) otherwise; exit 2 for "
                    "a run the ledger does not hold.",
    )
    p.add_argument("correlation_id", nargs="?", metavar="CORRELATION_ID", help="check only this correlation")
    common.add_server_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.server:
        with common.connect(args) as client:
            report = common.remote(lambda: client.verify(args.correlation_id), args.server)
    else:
        with common.open_reader(args) as ledger:
            report = ledger.verify(args.correlation_id)
    if args.correlation_id and report.correlations == 0 and not report.breaks:
        raise common.UserError(f"there is no run {args.correlation_id!r} in the ledger; "
                               "`chatsnapshot runs` lists them")
    for b in report.breaks:
        print(f"BROKEN correlation {b.correlation_id} seq {b.seq}: {b.reason}")
    for p in report.problems:
        print(f"BROKEN file {p.file}: {p.reason}")
    if report.ok:
        print(f"ok: {_count(report.envelopes, 'envelope')} in {_count(report.correlations, 'correlation')}, "
              "every chain holds")
        print("not seen by this check: a run or the whole ledger rewritten consistently (every hash, the index "
              "and the MANIFEST recomputed); only a checkpoint kept elsewhere shows that")
        return 0
    print(f"{len(report.breaks)} broken chain(s), {len(report.problems)} file problem(s) "
          f"in {report.envelopes} envelopes checked")
    return common.EXIT_NO


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
