"""Causes that resolve: the event id a reader sees as a fact's cause.

What is stored (and hashed) is ``causation_id`` as promotion derived it, a pure
function of the fact and its span (``receiver.promotion``): a span's first fact
names ``derived_id(trace_id, parent_span_id, 0)``, the id its parent span's first
fact has when the producer gave it none. That keeps contract 4 (the same
``(event_id, causation_id)`` under any arrival order, batching or duplication,
no fact waiting for its parent), but when the parent's first fact carries the
producer's own ``event_id`` no fact has the derived id: the stored cause is an
*anchor* (a name for "the first fact of span P"), not an event id.

Readers resolve it. ``cause_id`` is, first that applies:

1. ``causation_id`` itself, when a fact with that id is stored (every cause that
   was given explicitly, or derived and taken: the usual case);
2. when ``causation_id`` is the anchor of the fact's parent span
   (``derived_id(trace_id, parent_span_id, 0)``): the first fact of that span;
3. when it is the anchor of the fact's own span (a log-based fact: its cause is
   the first fact of the span it was emitted in): that span's first fact other
   than the fact itself;
4. else ``causation_id``: the cause dangles (it was never stored), and the
   projections say so.

"First fact of a span" is the one with the smallest ``(occurred_at, event_id)``
among the span's facts read together (on replay: the whole run, where a span's
facts are), else among all stored: a function of the span's facts alone, so the
resolved cause is the same in every arrival order once the facts are stored. Nothing resolved is written back: the
chain keeps what promotion derived, ``verify`` and proofs check that, and
``cause_id`` is recomputed on every read (``Envelope.cause_id``, the ``cause_id``
key of the JSON form, the ``causes`` SQL view, LedgerService).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from chatsnapshot.ledger.envelope import Envelope
from chatsnapshot.ledger.ids import derived_id

__all__ = ["CauseLookup", "first_fact", "resolve_causes"]


class CauseLookup(Protocol):
    """What resolution asks the store about facts outside the batch being resolved."""

    def stored(self, event_id: str) -> bool:
        """Whether a fact with this id is stored."""

    def first_of_span(self, trace_id: str, span_id: str, besides: str) -> str | None:
        """The event id of the stored first fact of one span other than ``besides`` (see above)."""


def first_fact(facts: Sequence[Envelope], *, besides: str | None = None) -> str | None:
    """The event id of a span's first fact, smallest ``(occurred_at, event_id)``, ``besides`` left out."""
    candidates = [(f.occurred_at, f.event_id) for f in facts if f.event_id != besides]
    return min(candidates)[1] if candidates else None


def resolve_causes(facts: Sequence[Envelope], lookup: CauseLookup | None = None) -> Sequence[Envelope]:
    """Set ``cause_id`` on ``facts`` (envelopes a reader has just built, not yet shared) and
    return them. ``lookup`` answers for facts outside ``facts``; without it only they count."""
    present = {f.event_id for f in facts}
    spans: dict[tuple[str, str], list[Envelope]] = {}
    for f in facts:
        if f.trace_id is not None and f.span_id is not None:
            spans.setdefault((f.trace_id, f.span_id), []).append(f)
    for f in facts:
        cause = f.causation_id
        if cause is not None and cause not in present and f.trace_id is not None:
            cause = _anchored(f, cause, spans, lookup) or cause
        object.__setattr__(f, "cause_id", cause)
    return facts


def _anchored(f: Envelope, cause: str, spans: dict[tuple[str, str], list[Envelope]],
              lookup: CauseLookup | None) -> str | None:
    """The first fact of the span whose anchor ``cause`` is (the parent's or f's own), if any."""
    assert f.trace_id is not None
    trace = bytes.fromhex(f.trace_id)
    for span_id in (f.parent_span_id, f.span_id):
        if span_id is None or derived_id(trace, bytes.fromhex(span_id), 0) != cause:
            continue
        members = spans.get((f.trace_id, span_id))
        if members is not None:
            return first_fact(members, besides=f.event_id)
        if lookup is None:
            return None
        if lookup.stored(cause):
            return cause  # the anchor is a stored fact's own id, outside this batch
        return lookup.first_of_span(f.trace_id, span_id, f.event_id)
    return None
