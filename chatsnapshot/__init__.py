"""ChatSnapshot: the durable execution ledger for agent systems, built on OpenTelemetry.

The facade::

    import chatsnapshot
    with chatsnapshot.Ledger.open("./chatsnapshot-ledger") as ledger:
        ...

``record``, ``correlation`` and ``configure`` join this surface with the exporters.
"""

from chatsnapshot.ledger import Envelope, Ledger, Source

__all__ = ["Envelope", "Ledger", "Source"]
__version__ = "0.1.0"
