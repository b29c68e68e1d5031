"""Every environment variable ChatSnapshot reads, with its default.

Configuration precedence everywhere: an explicit argument or flag beats the
environment variable, which beats the default.
"""

from __future__ import annotations

__all__ = ["CHATSNAPSHOT_LEDGER", "CHATSNAPSHOT_TOKEN", "DEFAULT_LEDGER"]

CHATSNAPSHOT_LEDGER = "CHATSNAPSHOT_LEDGER"
"""The ledger directory used by the command line. Default: ``./chatsnapshot-ledger``."""

DEFAULT_LEDGER = "./chatsnapshot-ledger"

CHATSNAPSHOT_TOKEN = "CHATSNAPSHOT_TOKEN"
"""The bearer token the command line's ``--server`` clients send (the receiver's
tokens are configured with ``serve --token-file`` or ``CHATSNAPSHOT_TOKENS``)."""
