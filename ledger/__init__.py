"""The ledger: the envelope model, the stores, replay, SQL, verification and projections.

The public surface (everything in ``__all__``):

=============================  ================================================================
``Ledger``, ``LedgerReader``   a ledger directory opened for writing (one process) or reading
                               (any number); ``ledger.ledger`` states the contracts
``LedgerUnion``                several ledgers (one per receiver) read as one (``ledger.union``)
``Envelope``, ``Source``       one execution fact, immutable (``ledger.envelope``)
codecs                         ``envelope_to_json`` / ``_from_json`` / ``_to_proto`` /
                               ``_from_proto``, ``fact_from_json`` (``ledger.codec``)
results                        ``AppendResult`` and ``AppendStatus``, ``VerifyReport`` with its
                               ``ChainBreak`` and ``Problem``, ``CompactionReport``, ``ErasureReport``,
                               ``Rejection``
``LedgerOptions``              sealing, compaction and backpressure knobs
errors                         the ledger's part of ``chatsnapshot.errors``
=============================  ================================================================

Beside it: ``ledger.memory`` (``MemoryLedger``, the second store), ``ledger.store``
(the ``Store`` protocols both stores satisfy), ``ledger.records`` (the canonical
encoding the hash chain covers), ``ledger.projections`` (transcript, timeline,
DAG, context, metrics, run page). The storage engine (WAL, segments, manifest,
sealing, compaction, recovery, lock) is private, in ``ledger._engine``; its
``layout`` module describes the directory file by file.
"""

from typing import TYPE_CHECKING

from chatsnapshot.errors import (
    CheckpointError,
    CorruptSegmentError,
    EnvelopeError,
    ErasureError,
    LedgerClosedError,
    LedgerError,
    LedgerFormatError,
    LedgerLockedError,
    LedgerNotFoundError,
    RoutingError,
    StoreUnavailableError,
)
from chatsnapshot.lazy import lazy_attributes
from chatsnapshot.ledger.codec import (
    envelope_from_json,
    envelope_from_proto,
    envelope_to_json,
    envelope_to_proto,
    fact_from_json,
)
from chatsnapshot.ledger.envelope import Envelope, Source, canonical_json
from chatsnapshot.ledger.ids import uuid7
from chatsnapshot.ledger.options import LedgerOptions
from chatsnapshot.ledger.results import (
    AppendResult,
    AppendStatus,
    ChainBreak,
    CheckpointReport,
    CompactionReport,
    ErasureReport,
    Problem,
    RunSummary,
    VerifyReport,
)

if TYPE_CHECKING:
    from chatsnapshot.ledger._engine.recovery import Quarantined, RecoveryReport
    from chatsnapshot.ledger.fork import fork
    from chatsnapshot.ledger.ledger import Ledger, LedgerReader, RepairReport, repair
    from chatsnapshot.ledger.union import LedgerUnion

# The stores and what they need (pyarrow, numpy, the engine) load on first use: a process that only
# builds or decodes envelopes (a promotion worker, a producer) does not pay for them.
_LAZY = {
    "Quarantined": "chatsnapshot.ledger._engine.recovery", "RecoveryReport": "chatsnapshot.ledger._engine.recovery",
    "fork": "chatsnapshot.ledger.fork", "Ledger": "chatsnapshot.ledger.ledger",
    "LedgerReader": "chatsnapshot.ledger.ledger", "RepairReport": "chatsnapshot.ledger.ledger",
    "repair": "chatsnapshot.ledger.ledger", "LedgerUnion": "chatsnapshot.ledger.union",
}


__getattr__ = lazy_attributes(__name__, _LAZY)

__all__ = [
    "AppendResult",
    "AppendStatus",
    "ChainBreak",
    "CheckpointError",
    "CheckpointReport",
    "CompactionReport",
    "CorruptSegmentError",
    "Envelope",
    "EnvelopeError",
    "ErasureError",
    "ErasureReport",
    "Ledger",
    "LedgerClosedError",
    "LedgerError",
    "LedgerFormatError",
    "LedgerLockedError",
    "LedgerNotFoundError",
    "LedgerOptions",
    "LedgerReader",
    "LedgerUnion",
    "Problem",
    "Quarantined",
    "RecoveryReport",
    "RepairReport",
    "RoutingError",
    "RunSummary",
    "Source",
    "StoreUnavailableError",
    "VerifyReport",
    "canonical_json",
    "envelope_from_json",
    "envelope_from_proto",
    "envelope_to_json",
    "envelope_to_proto",
    "fact_from_json",
    "fork",
    "repair",
    "uuid7",
]
