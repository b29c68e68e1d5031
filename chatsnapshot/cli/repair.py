"""chatsnapshot repair: rebuild a lost or unreadable MANIFEST from segments/ and index/."""

from __future__ import annotations

import argparse

from chatsnapshot.cli import common
from chatsnapshot.ledger import repair


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "repair", parents=[parent], help="rebuild a lost or unreadable MANIFEST from the segments",
        description="When the MANIFEST is missing or unreadable, read every segment and index file, write a "
                    "new MANIFEST (the old one is kept in quarantine/), and say what could not be recovered. "
                    "Needs the writer lock: stop the receiver first. Exit 0 when a usable MANIFEST was written "
                    "(or nothing needed repair), 1 when positions are missing from the files.",
    )
    p.add_argument("--force", action="store_true", help="rebuild the MANIFEST even if it is readable")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = repair(common.ledger_path(args), force=args.force)
    for line in report.notes:
        print(line)
    missing = [line for line in report.unrecovered if line.startswith("positions") or "unreadable" in line]
    for line in report.unrecovered:
        print(f"not recovered: {line}")
    return common.EXIT_NO if missing else 0
