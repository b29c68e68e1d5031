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
2. when it is the anchor of the fact's own span (a log-based fact: its cause is
   the first fact of the span it was emitted in): that span's first fact other
   than the fact itself;
3. else the first fact of the fact's parent span: what parentage gives, both when
   ``causation_id`` is the parent's anchor (``derived_id(trace_id, parent_span_id,
   0)``) and when it names a fact that was never stored (a tool result whose
   model-side tool call was not recorded, say);
4. else ``causation_id``: the cause dangles, and the projections say so.

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

    def stored(self, event_ids: set[str]) -> set[str]:
        """Which of these ids are stored (one query for the whole batch)."""

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
    missing = {f.causation_id for f in facts if f.causation_id is not None and f.causation_id not in present}
    if missing and lookup is not None:
        present |= lookup.stored(missing)
    spans: dict[tuple[str, str], list[Envelope]] = {}
    if missing:
        for f in facts:
            if f.trace_id is not None and f.span_id is not None:
                spans.setdefault((f.trace_id, f.span_id), []).append(f)
    for f in facts:
        cause = f.causation_id
        if cause is not None and cause not in present and f.trace_id is not None:
            cause = _from_spans(f, cause, spans, lookup) or cause
        object.__setattr__(f, "cause_id", cause)
    return facts


def _from_spans(f: Envelope, cause: str, spans: dict[tuple[str, str], list[Envelope]],
                lookup: CauseLookup | None) -> str | None:
    """For a cause no stored fact has: the first fact of f's own span when the cause is that
    span's anchor (a log-based fact), else the first fact of f's parent span."""
    assert f.trace_id is not None
    trace = f.trace_id
    if f.span_id is not None and derived_id(bytes.fromhex(trace), bytes.fromhex(f.span_id), 0) == cause:
        own = _first_of(trace, f.span_id, f.event_id, spans, lookup)
        if own is not None:
            return own
    if f.parent_span_id is not None:
        return _first_of(trace, f.parent_span_id, f.event_id, spans, lookup)
    return None


def _first_of(trace: str, span: str, besides: str, spans: dict[tuple[str, str], list[Envelope]],
              lookup: CauseLookup | None) -> str | None:
    members = spans.get((trace, span))
    if members is not None:
        return first_fact(members, besides=besides)
    return lookup.first_of_span(trace, span, besides) if lookup is not None else None
