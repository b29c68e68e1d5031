"""chatsnapshot append: store envelopes or bare facts from JSON Lines."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

from chatsnapshot.cli import common
from chatsnapshot.ledger import AppendStatus, EnvelopeError, fact_from_json

BATCH = 512


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "append", parents=[parent], help="append envelopes or facts from a JSON Lines file",
        description="Append one envelope or bare fact per line (JSON). A bare fact needs only event_type "
                    "and correlation_id; event_id (a new UUIDv7), occurred_at (the time in a UUIDv7 event_id, else "
                    "now) and source (system/custom) are filled in. Give facts a UUIDv7 event_id (or an event_id "
                    "and an occurred_at) to make appending the same file again idempotent. "
                    "Every line is checked before anything is appended.",
        epilog='example: echo \'{"event_type": "system.task_scheduled", "correlation_id": "run-1"}\' '
               "| chatsnapshot append -",
    )
    p.add_argument("file", metavar="FILE", help="a .jsonl file, or - for stdin")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    envelopes = []
    stream = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")  # noqa: SIM115
    with stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                envelopes.append(fact_from_json(json.loads(line)))
            except json.JSONDecodeError as e:
                raise common.UserError(f"{args.file}:{number}: not JSON ({e.msg}); nothing was appended") from e
            except EnvelopeError as e:
                raise common.UserError(f"{args.file}:{number}: {e}; nothing was appended") from e
    counts: Counter[str] = Counter()
    with common.open_writer(args) as ledger:
        for start in range(0, len(envelopes), BATCH):
            for result in ledger.append(envelopes[start:start + BATCH]):
                counts[result.status] += 1
                if result.status is AppendStatus.CONFLICT:
                    print(f"conflict: {result.event_id}: {result.reason}", file=sys.stderr)
    print(f"stored {counts[AppendStatus.STORED]}, duplicate {counts[AppendStatus.DUPLICATE]}, "
          f"conflict {counts[AppendStatus.CONFLICT]}")
    return common.EXIT_NO if counts[AppendStatus.CONFLICT] else 0
