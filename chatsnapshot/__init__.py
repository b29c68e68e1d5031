"""ChatSnapshot: the durable execution ledger for agent systems, built on OpenTelemetry.

The facade::

    import chatsnapshot

    chatsnapshot.configure(ledger="./chatsnapshot-ledger")       # facts go into an embedded ledger
    with chatsnapshot.correlation() as run_id:
        chatsnapshot.record("system.workflow_started", payload={"name": "nightly"})

    with chatsnapshot.Ledger.open("./chatsnapshot-ledger", readonly=True) as ledger:
        for envelope in ledger.replay(run_id):
            ...

``record`` and ``correlation`` live in ``chatsnapshot.instrumentation.record``,
``configure`` in ``chatsnapshot.instrumentation.configuration``, the rest in
``chatsnapshot.ledger``; all are imported on first use, so that ``import
chatsnapshot`` (and the command line, and a promotion worker) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatsnapshot.lazy import lazy_attributes

if TYPE_CHECKING:
    from chatsnapshot.instrumentation.configuration import configure
    from chatsnapshot.instrumentation.record import correlation, record
    from chatsnapshot.ledger import Envelope, Ledger, Source

__all__ = ["Envelope", "Ledger", "Source", "configure", "correlation", "record"]
__version__ = "0.1.0"

_LAZY = {
    "Envelope": "chatsnapshot.ledger", "Ledger": "chatsnapshot.ledger", "Source": "chatsnapshot.ledger",
    "record": "chatsnapshot.instrumentation.record",
    "correlation": "chatsnapshot.instrumentation.record",
    "configure": "chatsnapshot.instrumentation.configuration",
}


__getattr__ = lazy_attributes(__name__, _LAZY)
