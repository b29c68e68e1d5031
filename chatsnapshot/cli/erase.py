"""chatsnapshot erase: erase payloads (personal data) and keep every chain and checkpoint whole."""

from __future__ import annotations

import argparse
import getpass
import sys

from chatsnapshot.cli import common
from chatsnapshot.ledger import ErasureReport


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "erase", parents=[parent], help="erase the payloads of runs or of envelopes selected by SQL",
        description="Replace the payloads of the chosen envelopes with an erasure marker (who, when, why) and "
                    "delete their salts, rewriting only the segments that hold them; the old files are deleted "
                    "at once. Every hash chain and every checkpoint still verifies: each hash commits to a salted "
                    "digest of its payload, which stays. The erasure itself is recorded as system.erasure facts "
                    "in run chatsnapshot.erasures. Envelopes written before ledger format 2 cannot be erased "
                    "(the command refuses and changes nothing). Needs the writer lock: stop the receiver first. "
                    "Exit 0 when done (or nothing matched), 2 for a mistake.",
        epilog="examples:\n"
               "  chatsnapshot erase 0190b6a2 --reason 'GDPR art. 17, ticket 4411' --dry-run\n"
               "  chatsnapshot erase --where \"payload->>'$.content' LIKE '%@example.com%'\" \\\n"
               "      --reason 'leaked emails' --yes",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("runs", nargs="*", metavar="RUN", help="erase every payload of these runs: " + common.RUN_HELP)
    p.add_argument("--where", metavar="SQL",
                   help="erase the envelopes this SQL condition over the envelopes view selects (with RUN: both)")
    p.add_argument("--reason", required=True, help="why (kept in every marker and in the erasure record)")
    p.add_argument("--by", default=None, help="who asks for the erasure (default: the user running the command)")
    p.add_argument("--dry-run", action="store_true", help="only say what would be erased")
    p.add_argument("--yes", action="store_true",
                   help="do not ask for confirmation (needed when stdin is not a terminal)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.runs and not args.where:
        raise common.UserError("name the runs to erase, or select envelopes with --where SQL")
    with common.open_writer(args, existing=True) as ledger:
        runs = [common.resolve_run(ledger, r) for r in args.runs]
        conditions = [f"correlation_id IN ({', '.join(_quote(r) for r in runs)})"] if runs else []
        where = " AND ".join([*conditions, *([f"({args.where})"] if args.where else [])])
        by = args.by or getpass.getuser()
        planned = ledger.erase(where, by=by, reason=args.reason, dry_run=True)
        if args.dry_run or not planned.erased:
            _say(planned)
            return 0
        if not args.yes:
            _confirm(planned)
        _say(ledger.erase(where, by=by, reason=args.reason))
    return 0


def _confirm(planned: ErasureReport) -> None:
    if not sys.stdin.isatty():
        raise common.UserError(f"this erases {planned.erased} payload(s) for good: run it again with --yes "
                               "(or try --dry-run first)")
    answer = input(f"erase {planned.erased} payload(s) in {len(planned.runs)} run(s) for good? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise common.UserError("nothing was erased")


def _say(report: ErasureReport) -> None:
    runs = ", ".join(f"{run} ({n})" for run, n in sorted(report.runs.items()))
    verb = "would erase" if report.dry_run else "erased"
    print(f"{verb} {report.erased} payload(s) in {len(report.runs)} run(s){': ' + runs if runs else ''}")
    if report.already_erased:
        print(f"{report.already_erased} selected envelope(s) were erased before")
    for name in report.unreadable_segments:
        print(f"warning: {name} is quarantined (unreadable): it was neither searched nor rewritten")
    if report.dry_run:
        print("dry run: nothing was changed")
    elif report.erased:
        print(f"{report.segments_rewritten} segment(s) rewritten; recorded as system.erasure {report.record} "
              "in run chatsnapshot.erasures")
        print("every chain and checkpoint still verifies: chatsnapshot verify")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
