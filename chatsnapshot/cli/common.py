"""Helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import logging
import os

from chatsnapshot.environment_variables import CHATSNAPSHOT_LEDGER, DEFAULT_LEDGER
from chatsnapshot.ledger import Ledger

__all__ = ["EXIT_ERROR", "EXIT_NO", "UserError", "ledger_path", "non_negative", "open_reader", "open_writer"]

EXIT_NO = 1  # the answer is no: a broken chain, a conflict
EXIT_ERROR = 2  # the command could not do its work

log = logging.getLogger("chatsnapshot.cli")


class UserError(Exception):
    """A problem the user can fix; printed as one line."""


def ledger_path(args: argparse.Namespace) -> str:
    """--ledger, else $CHATSNAPSHOT_LEDGER, else ./chatsnapshot-ledger."""
    return getattr(args, "ledger", None) or os.environ.get(CHATSNAPSHOT_LEDGER) or DEFAULT_LEDGER


def open_reader(args: argparse.Namespace) -> Ledger:
    """The ledger, read-only: works while a writer (e.g. the receiver) runs."""
    ledger = Ledger.open(ledger_path(args), readonly=True)
    for line in ledger.recovery.lines():
        log.warning("%s", line)
    return ledger


def open_writer(args: argparse.Namespace) -> Ledger:
    """The ledger as its one writer (created if missing)."""
    return Ledger.open(ledger_path(args))


def non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value
