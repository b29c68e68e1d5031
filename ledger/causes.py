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
   the first fact of the span it was emitted in): that span's first fact, when
   it came before the fact (a cause precedes its effect: the span's earliest fact
   goes on to rule 3);
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

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from chatsnapshot.ledger.envelope import Envelope
from chatsnapshot.ledger.ids import derived_id, hex_id, uuid_bytes, uuid_text

__all__ = ["CauseLookup", "SqlCauseLookup", "first_fact", "resolve_causes"]


class CauseLookup(Protocol):
    """What resolution asks the store about facts outside the batch being resolved."""

    def stored(self, event_ids: set[str]) -> set[str]:
        """Which of these ids are stored (one query for the whole batch)."""

    def first_of_span(self, trace_id: str, span_id: str) -> tuple[int, str] | None:
        """``(occurred_at, event_id)`` of the stored first fact of one span (see above), or None."""


class SqlCauseLookup:
    """``CauseLookup`` over a store's ``sql`` (the ``envelopes`` view; a scan of the id columns):
    asked only about causes outside the facts being read, once per read and span."""

    def __init__(self, sql: Callable[[str], Any]) -> None:
        self._sql = sql

    def stored(self, event_ids: set[str]) -> set[str]:
        listed = ", ".join(f"'{uuid_text(uuid_bytes(i))}'" for i in event_ids)
        found = self._sql(f"SELECT CAST(event_id AS VARCHAR) AS id FROM envelopes WHERE event_id IN ({listed})")
        return set(found.column("id").to_pylist())

    def first_of_span(self, trace_id: str, span_id: str) -> tuple[int, str] | None:
        rows = self._sql(
            f"SELECT epoch_ns(occurred_at) AS at, CAST(event_id AS VARCHAR) AS id FROM envelopes "
            f"WHERE trace_id = '{hex_id(bytes.fromhex(trace_id))}' AND span_id = '{hex_id(bytes.fromhex(span_id))}' "
            "ORDER BY occurred_at, event_id LIMIT 1").to_pylist()
        return (rows[0]["at"], rows[0]["id"]) if rows else None


def first_fact(facts: Sequence[Envelope]) -> tuple[int, str] | None:
    """``(occurred_at, event_id)`` of a span's first fact: the smallest, or None for no facts."""
    return min(((f.occurred_at, f.event_id) for f in facts), default=None)


def resolve_causes(facts: Sequence[Envelope], lookup: CauseLookup | None = None, *,
                   complete: bool = True) -> Sequence[Envelope]:
    """Set ``cause_id`` on ``facts`` (envelopes a reader has just built, not yet shared) and
    return them. ``lookup`` answers for facts outside ``facts``; without it only they count.
    ``complete``: ``facts`` hold every stored fact of each span they touch (a whole run);
    otherwise (a replay from a seq on, a window of ``since``) spans are asked of ``lookup``, so
    that a cause resolves the same whatever window it was read in."""
    present = {f.event_id for f in facts}
    missing = {f.causation_id for f in facts if f.causation_id is not None and f.causation_id not in present}
    if missing and lookup is not None:
        present |= lookup.stored(missing)
    firsts: dict[tuple[str, str], tuple[int, str] | None] = {}  # per span, asked once per read
    if missing and (complete or lookup is None):
        spans: dict[tuple[str, str], list[Envelope]] = {}
        for f in facts:
            if f.trace_id is not None and f.span_id is not None:
                spans.setdefault((f.trace_id, f.span_id), []).append(f)
        firsts = {key: first_fact(members) for key, members in spans.items()}

    def first_of(trace: str, span: str) -> tuple[int, str] | None:
        key = (trace, span)
        if key not in firsts:
            firsts[key] = lookup.first_of_span(trace, span) if lookup is not None else None
        return firsts[key]

    for f in facts:
        cause = f.causation_id
        if cause is not None and cause not in present and f.trace_id is not None:
            cause = _from_spans(f, cause, first_of) or cause
        object.__setattr__(f, "cause_id", cause)
    return facts


def _from_spans(f: Envelope, cause: str, first_of: Callable[[str, str], tuple[int, str] | None]) -> str | None:
    """For a cause no stored fact has: the first fact of f's own span when the cause is that
    span's anchor (a log-based fact) and that fact came before f, else the first fact of f's
    parent span. Never f itself, never a fact after f: a cause precedes its effect."""
    assert f.trace_id is not None
    trace = f.trace_id
    if f.span_id is not None and derived_id(bytes.fromhex(trace), bytes.fromhex(f.span_id), 0) == cause:
        own = first_of(trace, f.span_id)
        if own is not None and own < (f.occurred_at, f.event_id):
            return own[1]
    if f.parent_span_id is not None:
        parent = first_of(trace, f.parent_span_id)
        return parent[1] if parent is not None else None
    return None
