"""Fork a run: a new correlation whose history is a recorded run's up to a seq, then its own.

``fork_envelopes(history, at_seq, new_run)`` is a pure function of the original's
envelopes: the new run's first fact is a ``system.run_forked`` marker saying where it
came from (``forked_from``, ``at_seq``, and ``fact_id``, the id of the original's fact at
that seq); then a copy of each of the original's facts ``1..at_seq``, in order, with the
same type, source, time and payload, an id derived from the new run and the original id
(``uuid8``: forking the same run at the same place under the same new id gives the same
facts, so a repeated fork is a duplicate, not a second copy), and its cause mapped onto
the copies (a cause outside the prefix stays as it was; the original's root is caused by
the marker). Nothing of the original changes: its chain, seqs and checkpoints stay as
they were. ``fork(ledger, run, at_seq)`` appends them to a ledger.

This is replay without re-execution: the agents of the new run continue from the copied
history (``restore(..., upto_seq=N)``), and everything after is the new run's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from chatsnapshot.ledger.envelope import FORK_TYPE, Envelope
from chatsnapshot.ledger.ids import uuid7, uuid8_of

if TYPE_CHECKING:
    from chatsnapshot.ledger.store import Store

__all__ = ["FORK_TYPE", "fork", "fork_envelopes"]

_DOMAIN = b"chatsnapshot/v1/fork/"


def fork_envelopes(history: Sequence[Envelope], at_seq: int, new_run: str | None = None) -> list[Envelope]:
    """The new run's facts: the marker, then copies of ``history`` (one run's envelopes, in
    seq order) up to ``at_seq``. Raises ``ValueError`` when the run has no fact at that seq."""
    if not history:
        raise ValueError("nothing to fork: the run has no facts")
    original = history[0].correlation_id
    prefix = [e for e in history if e.seq is not None and e.seq <= at_seq]
    if at_seq < 1 or not prefix or prefix[-1].seq != at_seq:
        last = history[-1].seq
        raise ValueError(f"run {original} has seqs 1..{last}; fork --at takes one of them, not {at_seq}")
    new_run = new_run or uuid7()
    if new_run == original:
        raise ValueError("a fork needs a correlation id of its own")
    base = _DOMAIN + new_run.encode() + b"/"
    marker = Envelope.create(
        FORK_TYPE, correlation_id=new_run, event_id=uuid8_of(base + b"marker/" + original.encode() + b"/"
                                                             + str(at_seq).encode()),
        occurred_at=prefix[0].occurred_at,
        payload={"forked_from": original, "at_seq": at_seq, "fact_id": prefix[-1].event_id},
    )
    copied: dict[str, str] = {}
    out = [marker]
    for e in prefix:
        copy_id = uuid8_of(base + e.event_id.encode())
        cause = e.cause_id or e.causation_id
        s = e.source
        out.append(Envelope.create(
            e.event_type, correlation_id=new_run, event_id=copy_id, occurred_at=e.occurred_at,
            payload=e.payload, origin=s.origin, runtime=s.runtime, service=s.service, agent=s.agent,
            causation_id=copied.get(cause, cause) if cause is not None else marker.event_id,
        ))
        copied[e.event_id] = copy_id
    return out


def fork(ledger: Store, correlation_id: str, at_seq: int, new_run: str | None = None) -> str:
    """Fork ``correlation_id`` at ``at_seq`` in ``ledger`` (its writer); returns the new run's id.
    The same fork again is a no-op (its facts are duplicates). Raises ``ValueError`` (no such
    seq; ``new_run`` already holds another run's facts) or ``LookupError`` (no such run)."""
    history = list(ledger.replay(correlation_id))
    if not history:
        raise LookupError(f"no run {correlation_id!r} in {ledger.path} ('chatsnapshot runs' lists them)")
    facts = fork_envelopes(history, at_seq, new_run)
    check_new_run(list(ledger.replay(facts[0].correlation_id)), facts)
    ledger.append(facts)
    return facts[0].correlation_id


def check_new_run(existing: list[Envelope], facts: list[Envelope]) -> None:
    """Refuse a fork into a run that holds anything but this very fork (``ValueError``)."""
    if existing and existing[0].event_id != facts[0].event_id:
        raise ValueError(f"run {facts[0].correlation_id} already exists: a fork needs a correlation id of its own "
                         "(drop --as for a new one)")
