"""``chatsnapshot``: the command line.

Each subcommand lives in its own module with a ``register(subparsers)``
function. User errors end as one line on stderr and a non-zero exit, never a
traceback: 1 when the answer is "no" (a broken chain, a conflict), 2 when the
command could not do its work (no ledger, locked, bad input).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from chatsnapshot import __version__
from chatsnapshot.environment_variables import ARROW_DEFAULT_MEMORY_POOL, CHATSNAPSHOT_LEDGER, DEFAULT_LEDGER
from chatsnapshot.errors import EnvelopeError, LedgerError

__all__ = ["build_parser", "main"]

# In the order --help lists them; each module is imported only when the parser is built, so that importing
# this module is cheap (a promotion worker's ``spawn`` imports the program's main module: this one).
_COMMANDS = ("serve", "replay", "tail", "runs", "describe", "transcript", "timeline", "dag", "context", "stats",
             "view", "ui", "fork", "sql", "verify", "checkpoint", "prove", "keygen", "compact", "erase", "repair",
             "append", "schema")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--ledger", metavar="DIR", action="append", default=argparse.SUPPRESS,
        help=f"ledger directory (env {CHATSNAPSHOT_LEDGER}; default {DEFAULT_LEDGER}); sql, runs, replay and "
             "verify read several as one (repeat it after the command, or @FILE: one directory per line)",
    )
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="log what the ledger does (recovery, sealing) to stderr")
    parser = argparse.ArgumentParser(
        prog="chatsnapshot", parents=[common],
        description="ChatSnapshot: the durable execution ledger for agent systems.",
        epilog="Run 'chatsnapshot COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"chatsnapshot {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMANDS:
        importlib.import_module(f"chatsnapshot.cli.{name}").register(subparsers, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Arrow picks its allocator once, when first used: before any command imports it, ask for the C
    # library's malloc, which gives freed memory back (chatsnapshot.receiver.memory says why).
    if not os.environ.get(ARROW_DEFAULT_MEMORY_POOL):
        os.environ[ARROW_DEFAULT_MEMORY_POOL] = "system"
    from chatsnapshot.cli.common import UserError

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if getattr(args, "verbose", False) else logging.ERROR,
                        format="chatsnapshot: %(message)s", stream=sys.stderr)
    try:
        return int(args.func(args) or 0)
    except (UserError, LedgerError, EnvelopeError) as e:
        return _fail(str(e))
    except FileNotFoundError as e:
        return _fail(f"{e.filename}: no such file")
    except PermissionError as e:
        return _fail(f"{e.filename}: permission denied")
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `chatsnapshot replay X | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _fail(message: str) -> int:
    from chatsnapshot.cli.common import EXIT_ERROR

    print(f"chatsnapshot: error: {message}", file=sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
