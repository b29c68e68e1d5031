"""The ledger: envelope model, durable store, replay, SQL and verification.

The public surface is small: ``Ledger`` and its results, ``Envelope`` and
``Source``, the JSON/protobuf codecs and the errors. See ``ledger.ledger`` for
the contracts and ``ledger.layout`` for what is on disk.
"""

from chatsnapshot.ledger.codec import (
    envelope_from_json,
    envelope_from_proto,
    envelope_to_json,
    envelope_to_proto,
    fact_from_json,
)
from chatsnapshot.ledger.envelope import Envelope, Source, canonical_json
from chatsnapshot.ledger.errors import (
    CorruptSegmentError,
    EnvelopeError,
    LedgerClosedError,
    LedgerError,
    LedgerFormatError,
    LedgerLockedError,
    ReadOnlyLedgerError,
    StoreUnavailableError,
)
from chatsnapshot.ledger.ids import uuid7
from chatsnapshot.ledger.ledger import Ledger, RunSummary
from chatsnapshot.ledger.options import LedgerOptions
from chatsnapshot.ledger.recovery import Quarantined, RecoveryReport
from chatsnapshot.ledger.results import (
    AppendResult,
    AppendStatus,
    ChainBreak,
    CompactionReport,
    Problem,
    VerifyReport,
)

__all__ = [
    "AppendResult",
    "AppendStatus",
    "ChainBreak",
    "CompactionReport",
    "CorruptSegmentError",
    "Envelope",
    "EnvelopeError",
    "Ledger",
    "LedgerClosedError",
    "LedgerError",
    "LedgerFormatError",
    "LedgerLockedError",
    "LedgerOptions",
    "Problem",
    "Quarantined",
    "ReadOnlyLedgerError",
    "RecoveryReport",
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
    "uuid7",
]
