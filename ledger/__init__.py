"""The ledger: envelope model, durable store, replay, SQL and verification.

The public surface is small: ``Ledger`` and its results, ``Envelope`` and
``Source``, the JSON/protobuf codecs and the errors. ``ledger.ledger`` states
the contracts; on disk a ledger is a directory::

    LEDGER_DIR/
    ├── LOCK                       flock'd by the one writer; says who holds it
    ├── MANIFEST                   JSON, replaced atomically: the sealed segments
├── dead-letters.jsonl         facts the receiver rejected, with the reason (view dead_letters)
    ├── wal/<first position>.wal   write-ahead log: appends are acknowledged once fsync'd here
    ├── segments/seg-<id>.parquet  sealed envelopes, immutable, sorted by (correlation_id, seq)
    ├── index/seg-<id>.parquet     per segment: correlation_id -> row range, seq range, last hash
    └── quarantine/                damaged or leftover files, moved aside with a report

    append -> WAL -> fsync -> ack;   background: WAL -> segment -> MANIFEST -> WAL deleted

``ledger.layout`` details each step, ``ledger.segment`` the Parquet schemas,
``ledger.wal`` the WAL framing and ``ledger.records`` the canonical encoding
that the hash chain covers.
"""

from chatsnapshot.errors import (
    CorruptSegmentError,
    EnvelopeError,
    LedgerClosedError,
    LedgerError,
    LedgerFormatError,
    LedgerLockedError,
    LedgerNotFoundError,
    StoreUnavailableError,
)
from chatsnapshot.ledger._engine.recovery import Quarantined, RecoveryReport
from chatsnapshot.ledger.codec import (
    envelope_from_json,
    envelope_from_proto,
    envelope_to_json,
    envelope_to_proto,
    fact_from_json,
)
from chatsnapshot.ledger.envelope import Envelope, Source, canonical_json
from chatsnapshot.ledger.ids import uuid7
from chatsnapshot.ledger.ledger import Ledger, LedgerReader, RunSummary
from chatsnapshot.ledger.options import LedgerOptions
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
    "LedgerNotFoundError",
    "LedgerOptions",
    "LedgerReader",
    "Problem",
    "Quarantined",
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
