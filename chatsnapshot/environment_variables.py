"""Every environment variable ChatSnapshot reads, with its default.

Configuration precedence everywhere: an explicit argument or flag beats the
environment variable, which beats the default.
"""

from __future__ import annotations

__all__ = ["CHATSNAPSHOT_LEDGER", "DEFAULT_LEDGER"]

CHATSNAPSHOT_LEDGER = "CHATSNAPSHOT_LEDGER"
"""The ledger directory used by the command line. Default: ``./chatsnapshot-ledger``."""

DEFAULT_LEDGER = "./chatsnapshot-ledger"
