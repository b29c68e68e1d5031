"""Erasure: replace payloads with a marker and keep every hash chain and checkpoint whole.

A format-2 record's hash commits to ``SHA-256(payload_salt || payload_json)``
(``ledger.records``), so a payload can go while its digest stays: erasing a row
sets ``payload`` to the erasure marker, ``payload_digest`` to that digest and
``payload_salt`` to NULL. Hashes, positions and the Merkle tree are unchanged,
so ``verify`` and every earlier checkpoint still pass, and the row reads as
erased. The salt goes with the payload: the digest of a short payload cannot
be reversed by guessing.

``erase`` does it in this order, so that a crash at any point leaves a ledger
that verifies and an erasure that can simply be run again:

1. select the envelopes (SQL over sealed and unsealed ones alike), refuse
   format-1 ones, then seal everything (erasure rewrites sealed segments only;
   the WAL files of sealed records are gone once sealed);
2. record the erasure as facts of its own (``system.erasure`` in run
   ``chatsnapshot.erasures``: who, when, why, which event ids), durably, so that
   the chain itself says what was erased (the SQL condition only as its SHA-256:
   its text may name the very data erased); ``verify`` reports an erased
   envelope that no erasure fact names, or whose marker is not that fact's;
3. rewrite each segment that holds a matched row under a new name, swap it into
   the MANIFEST, and delete the old file at once (no grace period: the old bytes
   are what must go), together with files that compaction retired earlier.

Envelopes written in format 1 (a migrated ledger) hash their payload bytes:
erasing one would break its chain, so ``erase`` refuses when the selection
holds any, before anything is changed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import replace

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from chatsnapshot.errors import ErasureError
from chatsnapshot.ledger._engine.layout import Layout
from chatsnapshot.ledger._engine.manifest import SegmentEntry
from chatsnapshot.ledger._engine.opening import WriterParts
from chatsnapshot.ledger._engine.sealing import write_segment
from chatsnapshot.ledger._engine.segment import SCHEMA, conform
from chatsnapshot.ledger.envelope import RESERVED_RUN, RESERVED_TYPE, Envelope, canonical_json
from chatsnapshot.ledger.ids import uuid7, uuid_bytes
from chatsnapshot.ledger.options import LedgerOptions
from chatsnapshot.ledger.results import ErasureReport
from chatsnapshot.ledger.timestamps import format_rfc3339_ns

__all__ = ["ERASURES_RUN", "ERASURE_EVENT", "erase", "erasure_facts", "erasure_marker"]

ERASURES_RUN = RESERVED_RUN
ERASURE_EVENT = RESERVED_TYPE
_IDS_PER_FACT = 20_000  # ~740 KB of ids: one fact stays under the 1 MiB payload limit


def erasure_facts(event_ids: list[str], *, by: str, reason: str, where: str, at: int) -> list[Envelope]:
    """The facts that record one erasure (several when it names many envelopes). The first
    part's event id names the erasure (``record`` in every part and in the marker). The
    condition is kept as its SHA-256 only: its text may name the very data erased."""
    record = uuid7()
    facts = []
    for start in range(0, len(event_ids), _IDS_PER_FACT):
        part = event_ids[start:start + _IDS_PER_FACT]
        facts.append(Envelope.create(
            ERASURE_EVENT, correlation_id=ERASURES_RUN, origin="system", runtime="chatsnapshot", occurred_at=at,
            event_id=record if not start else None,
            payload={"by": by, "reason": reason, "record": record,
                     "where_sha256": hashlib.sha256(where.encode()).hexdigest(), "event_ids": part,
                     "part": start // _IDS_PER_FACT + 1, "parts": -(-len(event_ids) // _IDS_PER_FACT)},
        ))
    return facts


def erasure_marker(record: str, *, by: str, reason: str, at: int) -> str:
    """The payload an erased envelope carries: who, when, why, and which erasure record."""
    return canonical_json({"erasure": {"at": format_rfc3339_ns(at), "by": by, "reason": reason, "record": record}})


def erase(parts: WriterParts, layout: Layout, options: LedgerOptions, select: Callable[[str], pa.Table], *,
          where: str, by: str, reason: str, dry_run: bool = False) -> ErasureReport:
    """Erase the payloads of the envelopes that ``where`` (SQL over the ``envelopes``
    view, run by ``select``) selects. Raises ``ErasureError`` (nothing changed) for a
    bad condition or format-1 rows."""
    keeper = parts.keeper
    with parts.compactor.rewriting:  # no merge may copy a segment while it is being erased
        chosen = _select(select, where)
        report = ErasureReport(where=where, dry_run=dry_run)
        erased = chosen.column("erased").to_pylist()
        legacy = chosen.column("legacy").to_pylist()
        runs = chosen.column("correlation_id").to_pylist()
        ids = chosen.column("event_id").to_pylist()
        report.already_erased = sum(erased)
        report.unreadable_segments = [e.file for e in keeper.current.segments if not e.healthy]
        if any(legacy):
            n = sum(legacy)
            raise ErasureError(
                f"{n} of the selected envelopes were written in ledger format 1, whose hashes cover the payload "
                "itself: erasing them would break their chains. Nothing was erased. Narrow the selection "
                "(e.g. AND recorded_at > <the migration time>), or export and rebuild the ledger")
        todo = [(str(i), r) for i, r, e in zip(ids, runs, erased, strict=True) if not e]
        for _, run in todo:
            report.runs[run] = report.runs.get(run, 0) + 1
        report.erased = len(todo)
        if dry_run or not todo:
            return report
        parts.sealer.seal_all()
        at = time.time_ns()
        facts = erasure_facts([i for i, _ in todo], by=by, reason=reason, where=where, at=at)
        parts.writer.append(facts)
        report.record = facts[0].event_id
        marker = erasure_marker(facts[0].event_id, by=by, reason=reason, at=at)
        targets = pa.array([uuid_bytes(i) for i, _ in todo], pa.binary(16))
        for entry in list(keeper.current.segments):
            if entry.healthy and _rewrite(parts, layout, options, entry, targets, marker):
                report.segments_rewritten += 1
        parts.compactor.bury(grace=0)  # files compaction retired earlier hold the old payloads too
    return report


def _select(select: Callable[[str], pa.Table], where: str) -> pa.Table:
    if not where.strip():
        raise ErasureError("the selection is empty: name runs, or give a SQL condition over envelopes")
    import duckdb

    try:
        select(f"SELECT 1 FROM envelopes WHERE {where} LIMIT 0")  # an error about the condition as given
    except duckdb.Error as e:
        raise ErasureError(f"the condition is not valid SQL over the envelopes view: {e}") from e
    try:
        return select(
            "SELECT CAST(event_id AS VARCHAR) AS event_id, correlation_id, erased, "
            "payload_salt IS NULL AND payload_digest IS NULL AS legacy "
            f"FROM envelopes WHERE ({where}) AND correlation_id <> '{ERASURES_RUN}'")
    except duckdb.Error as e:
        raise ErasureError(f"the condition is not valid SQL over the envelopes view: {e}") from e


def _rewrite(parts: WriterParts, layout: Layout, options: LedgerOptions, entry: SegmentEntry, targets: pa.Array,
             marker: str) -> bool:
    """Rewrite one segment with ``targets`` erased; False when it holds none of them."""
    path = layout.root / entry.file
    ids = pq.read_table(path, columns=["event_id"]).column(0)
    storage = pa.chunked_array([c.storage for c in ids.chunks], pa.binary(16))
    mask = pc.is_in(storage, value_set=targets).to_numpy(zero_copy_only=False)
    if not mask.any():
        return False
    table = conform(pq.read_table(path))
    rows = mask.nonzero()[0]
    payloads = table.column("payload").combine_chunks().storage.to_pylist()
    salts = table.column("payload_salt").to_pylist()
    digests = table.column("payload_digest").to_pylist()
    for row in rows.tolist():
        salt = salts[row]
        if salt is None:  # erased since it was selected, or format 1 (refused before): leave it
            continue
        digests[row] = hashlib.sha256(salt + payloads[row].encode()).digest()
        salts[row], payloads[row] = None, marker
    json_type = SCHEMA.field("payload").type
    table = _with(table, "payload", pa.ExtensionArray.from_storage(json_type, pa.array(payloads, pa.string())))
    table = _with(table, "payload_salt", pa.array(salts, pa.binary(16)))
    table = _with(table, "payload_digest", pa.array(digests, pa.binary(32)))
    keeper = parts.keeper
    new, index = write_segment(layout, options, keeper, table.select(SCHEMA.names).cast(SCHEMA), level=entry.level)
    files = (entry.file, entry.index_file)
    keeper.update(lambda m: m.with_segments([*(s for s in m.segments if s.id != entry.id), new],
                                            retired=(*m.retired, *files)))
    for old in parts.writer.replace_segments({entry.id}, [parts.catalog.open_segment(new, index=index)]):
        if old.file is not None:
            old.file.close()  # no open handle keeps the erased bytes readable (/proc/PID/fd)
    for name in files:
        (layout.root / name).unlink(missing_ok=True)
    keeper.update(lambda m: replace(m, retired=tuple(f for f in m.retired if f not in files)))
    return True


def _with(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), SCHEMA.field(name), values)
