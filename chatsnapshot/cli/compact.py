"""chatsnapshot compact: merge small segments (envelopes never change)."""

from __future__ import annotations

import argparse

from chatsnapshot.cli import common


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "compact", parents=[parent], help="merge small segments into larger ones",
        description="Seal what is unsealed and merge adjacent small segments into larger sorted ones. "
                    "No envelope changes. Needs the writer lock: a running receiver compacts on its own.",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with common.open_writer(args, existing=True) as ledger:
        report = ledger.compact()
    print(f"compacted: {report.segments_before} segments -> {report.segments_after} "
          f"({report.merged} merged, {report.rows_rewritten} envelopes rewritten)")
    return 0
