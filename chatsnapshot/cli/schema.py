"""chatsnapshot schema: the published payload schemas; check a file or a run against them."""

from __future__ import annotations

import argparse
import json
import sys

from chatsnapshot.cli import common
from chatsnapshot.ledger.payloads import check, schema, schema_types


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "schema", parents=[parent], help="the standard payload of each event type; check facts against it",
        description="Without arguments, list the event types that have a published payload schema (JSON Schema "
                    "2020-12, shipped in the package: ledger/schemas/). With TYPE, print its schema. With --check "
                    "FILE (JSON Lines of envelopes or bare facts; - for stdin) or --run RUN, say which payloads do "
                    "not follow their type's schema, one line each: exit 0 when all follow, 1 when some do not. "
                    "Schemas allow keys of their own; types without a schema (x.<vendor>.*) are not checked.",
        epilog="examples:\n  chatsnapshot schema execution.tool_call\n  chatsnapshot schema --run 4d5e6f70\n"
               "  chatsnapshot schema --check facts.jsonl",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("event_type", nargs="?", metavar="TYPE", help="print this type's schema")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--check", metavar="FILE", help="check every line of a JSON Lines file (- for stdin)")
    what.add_argument("--run", metavar="RUN", help="check a run's payloads: " + common.RUN_HELP)
    common.add_server_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.check or args.run:
        if args.event_type:
            raise common.UserError("give TYPE, or --check / --run, not both")
        problems, checked = _check_file(args.check) if args.check else _check_run(args)
        for line in problems:
            print(line)
        print(f"{checked} payload(s) checked, {len(problems)} problem(s)")
        return common.EXIT_NO if problems else 0
    if args.event_type:
        document = schema(args.event_type)
        if document is None:
            raise common.UserError(f"no published schema for {args.event_type!r}; `chatsnapshot schema` lists them")
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return 0
    for event_type in schema_types():
        print(f"{event_type:<34} {schema(event_type)['description'].split('. ')[0].rstrip('.')}")  # type: ignore[index]
    return 0


def _check_file(path: str) -> tuple[list[str], int]:
    problems, checked = [], 0
    stream = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115
    with stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                fact = json.loads(line)
            except json.JSONDecodeError as e:
                raise common.UserError(f"{path}:{number}: not JSON ({e.msg})") from e
            if not isinstance(fact, dict) or not isinstance(fact.get("event_type"), str):
                raise common.UserError(f"{path}:{number}: not a fact (an object with event_type)")
            checked += 1
            problems += [f"{path}:{number}: {fact['event_type']}: {p}"
                         for p in check(fact["event_type"], fact.get("payload", {}))]
    return problems, checked


def _check_run(args: argparse.Namespace) -> tuple[list[str], int]:
    envelopes = common.run_envelopes(argparse.Namespace(**{**vars(args), "correlation_id": args.run}))
    problems = [f"seq {e.seq}: {e.event_type}: {p}" for e in envelopes if not e.erased
                for p in check(e.event_type, e.payload)]
    return problems, len(envelopes)
