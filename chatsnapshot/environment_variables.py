"""Every environment variable ChatSnapshot reads, with its default.

Configuration precedence everywhere: an explicit argument or flag beats the
environment variable, which beats the default.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "CHATSNAPSHOT_ENDPOINT", "CHATSNAPSHOT_LEDGER", "CHATSNAPSHOT_PROTOCOL", "CHATSNAPSHOT_SPOOL_DIR",
    "CHATSNAPSHOT_TOKEN", "CHATSNAPSHOT_TRANSPORT", "DEFAULT_LEDGER", "DEFAULT_SPOOL", "ledger_path",
]

CHATSNAPSHOT_LEDGER = "CHATSNAPSHOT_LEDGER"
"""The ledger directory used by the command line. Default: ``./chatsnapshot-ledger``."""

DEFAULT_LEDGER = "./chatsnapshot-ledger"

CHATSNAPSHOT_TOKEN = "CHATSNAPSHOT_TOKEN"
"""The bearer token the command line's ``--server`` clients send (the receiver's
tokens are configured with ``serve --token-file`` or ``CHATSNAPSHOT_TOKENS``)."""

CHATSNAPSHOT_ENDPOINT = "CHATSNAPSHOT_ENDPOINT"
"""``configure()``: the receiver or collector to send facts to (remote mode)."""

CHATSNAPSHOT_PROTOCOL = "CHATSNAPSHOT_PROTOCOL"
"""``configure()``: ``grpc`` (default) or ``http/protobuf``."""

CHATSNAPSHOT_SPOOL_DIR = "CHATSNAPSHOT_SPOOL_DIR"
"""``configure()``: the durable spool of remote mode. Default: ``./chatsnapshot-spool``."""

DEFAULT_SPOOL = "./chatsnapshot-spool"

CHATSNAPSHOT_TRANSPORT = "CHATSNAPSHOT_TRANSPORT"
"""``configure()`` and ``record()``: ``spans`` (default) or ``logs``."""

# The receiver's own settings (CHATSNAPSHOT_GRPC, CHATSNAPSHOT_HTTP, ...) are listed in receiver/settings.py.


def ledger_path(explicit: str | Path | None = None) -> str | Path:
    """``explicit``, else ``$CHATSNAPSHOT_LEDGER``, else ``./chatsnapshot-ledger``."""
    return explicit or os.environ.get(CHATSNAPSHOT_LEDGER) or DEFAULT_LEDGER
