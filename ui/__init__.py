"""The web UI (``chatsnapshot ui``): a read-only web app over one or several ledgers or a
running receiver.

=======================  ==========================================================
``create_app``           the Starlette app (``ui.app``: its routes and their contracts)
``UiState``              what it serves from: a ``Source`` and the runs index
``LocalSource``,         ledger directories on this machine, or a receiver's
``RemoteSource``         LedgerService (``ui.sources``)
``RunIndex``             the runs table, folded from the ledger in commit order
``run_document``         one run as the page draws it, with ``LEGEND``
=======================  ==========================================================

The page itself is ``ui/static``: plain ES modules and CSS, no build step, nothing fetched
from anywhere but the app.
"""

from chatsnapshot.ui.app import UiState, create_app
from chatsnapshot.ui.index import RunIndex
from chatsnapshot.ui.runview import LEGEND, run_document
from chatsnapshot.ui.sources import LocalSource, RemoteSource

__all__ = ["LEGEND", "LocalSource", "RemoteSource", "RunIndex", "UiState", "create_app", "run_document"]
