"""What the ledger's verbs return."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

__all__ = [
    "AppendResult", "AppendStatus", "ChainBreak", "CheckpointReport", "CompactionReport", "ErasureReport", "Problem",
    "Rejection", "RunSummary", "VerifyReport",
]


class AppendStatus(StrEnum):
    STORED = "stored"  # newly committed and durable
    DUPLICATE = "duplicate"  # the same fact was already stored; nothing written
    CONFLICT = "conflict"  # same event_id, other content: rejected, the stored one stays


class AppendResult(NamedTuple):
    """The outcome for one envelope of an ``append``.

    ``seq`` and ``position`` are those of the stored envelope: the new one for
    STORED, the original for DUPLICATE and CONFLICT. ``reason`` says, for a
    conflict, which fields differ.
    """

    event_id: str
    status: AppendStatus
    seq: int
    position: int
    reason: str | None = None


class ChainBreak(NamedTuple):
    """The first place a correlation's chain does not hold."""

    correlation_id: str
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"{self.correlation_id} seq {self.seq}: {self.reason}"


class Problem(NamedTuple):
    """Something wrong with a file rather than with one chain."""

    file: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.reason}"


@dataclass
class VerifyReport:
    """The result of ``verify``: ``ok`` when every chain holds and every file checks out."""

    correlations: int = 0
    envelopes: int = 0
    erased: int = 0  # envelopes whose payload was erased (their chain holds: not a break)
    breaks: list[ChainBreak] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks and not self.problems


@dataclass
class CheckpointReport:
    """The result of ``verify_checkpoint``: ``ok`` when the ledger extends the checkpoint."""

    size: int  # envelopes the checkpoint commits to
    signed_by: str | None = None  # the key whose signature was checked (None: not checked)
    envelopes: int = 0  # envelopes the ledger holds now
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class CompactionReport:
    segments_before: int = 0
    segments_after: int = 0
    merged: int = 0  # segments merged away
    rows_rewritten: int = 0


@dataclass
class ErasureReport:
    """The result of ``Ledger.erase``: how many payloads were erased, per run."""

    where: str  # the SQL condition the envelopes were selected by
    dry_run: bool = False  # nothing was changed: this is what would be erased
    erased: int = 0  # payloads erased now (or, in a dry run, that would be)
    already_erased: int = 0  # selected, but erased before
    runs: dict[str, int] = field(default_factory=dict)  # correlation_id -> payloads erased in it
    segments_rewritten: int = 0
    record: str | None = None  # event id of the system.erasure fact that records this erasure
    unreadable_segments: list[str] = field(default_factory=list)  # quarantined: not searched, not rewritten


@dataclass(frozen=True, slots=True)
class Rejection:
    """A fact that failed validation (or conflicts with a stored one): kept in the
    dead-letter table by ``Ledger.dead_letter``, never dropped silently."""

    reason: str
    field: str | None
    event_type: str | None
    correlation_id: str | None
    trace_id: str | None
    span_id: str | None
    service: str | None
    attributes_json: str  # the fact's attributes as a JSON object, for a human to look at
    received_at: int


class RunSummary(NamedTuple):
    """One correlation, as the ``runs`` view describes it (times in UTC ns)."""

    correlation_id: str
    first_occurred_at: int
    last_occurred_at: int
    envelopes: int
    event_types: dict[str, int]
    last_event_type: str
    last_seq: int
    conversation_id: str | None = None  # the conversation this run belongs to, when a producer said
    forked_from: str | None = None  # the run this one was forked from (ledger.fork), if any
