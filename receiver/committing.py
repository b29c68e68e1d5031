"""Committing a promotion: append its envelopes, dead-letter what was rejected.

Shared by the receiver and the in-process exporters, so that both treat a
conflict (same ``event_id``, other content) the same way: the stored envelope
stays, the newcomer is a rejection kept in the dead-letter table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from chatsnapshot.ledger.results import AppendResult, AppendStatus, Rejection
from chatsnapshot.ledger.store import Store
from chatsnapshot.receiver.promotion import Promotion

__all__ = ["Committed", "commit"]


@dataclass(frozen=True)
class Committed:
    results: list[AppendResult]
    rejected: list[Rejection]

    @property
    def stored(self) -> int:
        return sum(r.status is AppendStatus.STORED for r in self.results)

    @property
    def duplicates(self) -> int:
        return sum(r.status is AppendStatus.DUPLICATE for r in self.results)


def commit(ledger: Store, promotion: Promotion) -> Committed:
    """Durably append ``promotion`` and dead-letter its rejections (and any conflicts).
    Raises ``StoreUnavailableError`` when the ledger cannot: nothing is then acknowledged."""
    results = ledger.append(promotion.envelopes) if promotion.envelopes else []
    rejected = list(promotion.rejected)
    for result, env in zip(results, promotion.envelopes, strict=True):
        if result.status is AppendStatus.CONFLICT:
            rejected.append(Rejection(
                reason=f"conflict: event_id {result.event_id} is stored with other content ({result.reason})",
                field="event_id", event_type=env.event_type, correlation_id=env.correlation_id,
                trace_id=env.trace_id, span_id=env.span_id, service=env.source.service,
                attributes_json='{"payload": ' + env.payload_json + "}", received_at=time.time_ns(),
            ))
    ledger.dead_letter(rejected)
    return Committed(results, rejected)
