"""SQL over the ledger with DuckDB: the views ``envelopes``, ``runs``, ``causes``,
``run_conversations``, ``conversations`` and ``dead_letters``.

``envelopes`` has one row per envelope and every field of the envelope: UUIDs as
DuckDB ``UUID``, times as ``TIMESTAMPTZ_NS``, OTel ids and hashes as lowercase hex
text, the payload as ``JSON``, and ``erased`` (the payload was replaced by an
erasure marker; segments of ledger format 1 lack the two payload columns, which
read as NULL). ``runs`` has one row per correlation: first and last
``occurred_at``, the count, counts per event type (a MAP), the last event type and
seq. ``causes`` has one row per envelope: its stored ``causation_id``, the
``cause_id`` it resolves to and whether that ``dangling`` (``ledger.causes``,
resolved over the whole ledger). ``run_lineage`` has, for each forked run, the run it was forked from and where
(``ledger.fork``). ``run_conversations`` has the ``conversation_id``
of the runs whose span facts (promoted by rules) carry the span's
``gen_ai.conversation.id`` or ``session.id``; ``conversations`` groups runs by it.
``dead_letters`` has the facts the receiver rejected (``ledger._engine.deadletters``).
Segments are read where they lie with ``read_parquet``; the unsealed tail (writer
only) is a registered Arrow table.

The same views over a copied directory with plain DuckDB (no ChatSnapshot)::

    CREATE VIEW envelopes AS SELECT * FROM read_parquet('LEDGER/segments/*.parquet', union_by_name = true);
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from chatsnapshot.errors import QueryRefusedError
from chatsnapshot.ledger._engine.deadletters import DEAD_LETTERS_COLUMNS
from chatsnapshot.ledger._engine.layout import Layout
from chatsnapshot.ledger._engine.segment import records_to_table
from chatsnapshot.ledger._engine.snapshot import Snapshot

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "CAUSES_VIEW", "CONFINED_ANSWER", "CONFINED_MEMORY", "CONVERSATIONS_VIEW", "ENVELOPES_VIEW", "RUNS_VIEW",
    "SqlEngine", "arrow_of", "confine", "create_views", "dead_letters_view", "interrupted_after", "refuse_writing",
]

ALL_VIEW = "CREATE OR REPLACE VIEW _all AS SELECT * FROM _sealed UNION ALL BY NAME SELECT * FROM _unsealed"
ENVELOPES_VIEW = """
CREATE OR REPLACE VIEW envelopes AS
SELECT event_id, event_type, schema_version, occurred_at, recorded_at,
       source_origin, source_runtime, source_service, source_agent,
       correlation_id, causation_id,
       lower(hex(trace_id)) AS trace_id, lower(hex(span_id)) AS span_id,
       lower(hex(parent_span_id)) AS parent_span_id,
       seq, position, payload, lower(hex(prev_hash)) AS prev_hash, lower(hex(hash)) AS hash,
       lower(hex(payload_salt)) AS payload_salt, lower(hex(payload_digest)) AS payload_digest,
       payload_salt IS NULL AND payload_digest IS NOT NULL AS erased
FROM _all
"""
# ledger.ids.derived_id(trace, span, 0) in SQL: the anchor a span's children name as their cause.
ANCHOR_MACROS = (
    "CREATE OR REPLACE MACRO _uuid8(h) AS (substr(h, 1, 12) || '8' || substr(h, 14, 3) || "
    "substr('89ab', (('0x' || substr(h, 17, 1))::INTEGER & 3) + 1, 1) || substr(h, 18, 15))::UUID",
    "CREATE OR REPLACE MACRO _anchor(trace, span) AS "
    "_uuid8(sha256('chatsnapshot/v1/fact'::BLOB || trace || span || '\\x00\\x00\\x00\\x00'::BLOB))",
)
# ledger.causes in SQL, over the whole ledger: one row per envelope, its stored causation_id,
# the cause_id it resolves to, and whether that dangles (no such fact is stored).
CAUSES_VIEW = """
CREATE OR REPLACE VIEW causes AS
WITH f AS (SELECT event_id, correlation_id, seq, causation_id, trace_id, span_id, parent_span_id, occurred_at
           FROM _all),
firsts AS (SELECT trace_id, span_id, event_id,
                  row_number() OVER (PARTITION BY trace_id, span_id ORDER BY occurred_at, event_id) AS k
           FROM f WHERE trace_id IS NOT NULL AND span_id IS NOT NULL),
resolved AS (
    SELECT f.event_id, f.correlation_id, f.seq, f.causation_id,
           CASE WHEN f.causation_id IS NULL THEN NULL
                WHEN c.event_id IS NOT NULL THEN f.causation_id
                WHEN f.causation_id = _anchor(f.trace_id, f.span_id)
                     THEN coalesce(CASE WHEN o1.event_id <> f.event_id THEN o1.event_id END, p.event_id)
                ELSE p.event_id
           END AS resolved
    FROM f
    LEFT JOIN (SELECT DISTINCT event_id FROM f) c ON c.event_id = f.causation_id
    LEFT JOIN firsts p ON p.trace_id = f.trace_id AND p.span_id = f.parent_span_id AND p.k = 1
    LEFT JOIN firsts o1 ON o1.trace_id = f.trace_id AND o1.span_id = f.span_id AND o1.k = 1
)
SELECT event_id, correlation_id, seq, causation_id, coalesce(resolved, causation_id) AS cause_id,
       causation_id IS NOT NULL AND resolved IS NULL AS dangling
FROM resolved
"""
RUNS_VIEW = """
CREATE OR REPLACE VIEW runs AS
SELECT correlation_id,
       min(occurred_at) AS first_occurred_at,
       max(occurred_at) AS last_occurred_at,
       count(*) AS envelopes,
       histogram(event_type) AS event_types,
       arg_max(event_type, seq) AS last_event_type,
       max(seq) AS last_seq
FROM envelopes
GROUP BY correlation_id
"""
# Which conversation a run belongs to, as its span facts say (promotion rules: source_runtime 'none');
# apart from RUNS_VIEW so that listing runs never parses a payload.
RUN_CONVERSATIONS_VIEW = """
CREATE OR REPLACE VIEW run_conversations AS
SELECT correlation_id, max(payload->>'$.conversation_id') AS conversation_id
FROM envelopes
WHERE source_runtime = 'none' AND payload->>'$.conversation_id' IS NOT NULL
GROUP BY correlation_id
"""
# Where a forked run came from: its first fact, a system.run_forked marker (ledger.fork).
RUN_LINEAGE_VIEW = """
CREATE OR REPLACE VIEW run_lineage AS
SELECT correlation_id, payload->>'$.forked_from' AS forked_from, (payload->>'$.at_seq')::BIGINT AS forked_at_seq,
       (payload->>'$.fact_id')::UUID AS forked_fact_id
FROM envelopes
WHERE event_type = 'system.run_forked' AND seq = 1
"""
CONVERSATIONS_VIEW = """
CREATE OR REPLACE VIEW conversations AS
SELECT conversation_id,
       count(*) AS runs,
       list(correlation_id ORDER BY first_occurred_at, correlation_id) AS correlation_ids,
       min(first_occurred_at) AS first_occurred_at,
       max(last_occurred_at) AS last_occurred_at,
       sum(envelopes) AS envelopes
FROM runs JOIN run_conversations USING (correlation_id)
GROUP BY conversation_id
"""


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    """The views over ``_sealed`` and ``_unsealed`` (which the caller made): envelopes, runs, causes."""
    for statement in (ALL_VIEW, ENVELOPES_VIEW, RUNS_VIEW, RUN_CONVERSATIONS_VIEW, RUN_LINEAGE_VIEW, CONVERSATIONS_VIEW,
                      *ANCHOR_MACROS,
                      CAUSES_VIEW):
        con.execute(statement)


def dead_letters_view(paths: list[str]) -> str:
    """The view over the dead-letter files ``paths`` (those that exist; none: an empty view)."""
    if not paths:
        columns = ", ".join(f"NULL::{t} AS {name}" for name, t in DEAD_LETTERS_COLUMNS.items())
        return f"CREATE OR REPLACE VIEW dead_letters AS SELECT {columns} WHERE false"
    types = ", ".join(f"{name}: '{t}'" for name, t in DEAD_LETTERS_COLUMNS.items())
    return (f"CREATE OR REPLACE VIEW dead_letters AS SELECT * FROM read_json([{', '.join(map(_quote, paths))}], "
            f"format = 'newline_delimited', ignore_errors = true, columns = {{{types}}})")


def confine(con: duckdb.DuckDBPyConnection, roots: Sequence[Path] = ()) -> None:
    """Lock ``con`` down for untrusted queries: files only under ``roots``, bounded memory, one
    thread, and no way to change that back."""
    directories = ", ".join(_quote(f"{root.resolve()}/") for root in roots)
    for setting in (f"allowed_directories = [{directories}]", f"memory_limit = '{CONFINED_MEMORY}'", "threads = 1",
                    "enable_external_access = false", "lock_configuration = true"):
        con.execute(f"SET {setting}")


@contextmanager
def interrupted_after(con: duckdb.DuckDBPyConnection, timeout: float | None) -> Iterator[None]:
    """Interrupt what ``con`` runs once ``timeout`` seconds have passed (None: never)."""
    if timeout is None:
        yield
        return
    alarm = threading.Timer(timeout, con.interrupt)
    alarm.start()
    try:
        yield
    finally:
        alarm.cancel()


def refuse_writing(sql: str) -> None:
    """Raise ``QueryRefusedError`` unless every statement of ``sql`` only reads."""
    import duckdb

    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as e:
        raise QueryRefusedError(f"the query does not parse: {e}") from None
    for statement in statements:
        kind = statement.type.name
        if kind not in _READING:
            raise QueryRefusedError(f"{kind} is not allowed here: this connection only reads (SELECT, "
                                    "DESCRIBE, SHOW, SUMMARIZE)")


def _quote(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def arrow_of(relation: duckdb.DuckDBPyRelation | None, max_bytes: int | None = None) -> pa.Table:
    """The result of ``relation`` as one Arrow table; past ``max_bytes`` of it, ``QueryRefusedError``
    (read batch by batch: DuckDB's memory limit does not bound what a query returns)."""
    if relation is None:  # a statement with no result
        return pa.table({})
    if max_bytes is None:
        to_table = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
        return to_table()
    reader = (getattr(relation, "to_arrow_reader", None) or relation.fetch_record_batch)(64 * 1024)
    batches, size = [], 0
    for batch in reader:
        size += batch.nbytes
        if size > max_bytes:
            raise QueryRefusedError(f"the result is over {max_bytes >> 20} MiB, more than one answer carries: "
                                    "add a LIMIT, select fewer columns or aggregate")
        batches.append(batch)
    return pa.Table.from_batches(batches, schema=reader.schema)


# What a confined query may be: SELECT (DESCRIBE, SHOW and SUMMARIZE parse as SELECT). Not EXPLAIN:
# EXPLAIN ANALYZE runs the statement it explains, whatever it is.
_READING = frozenset({"SELECT"})
CONFINED_MEMORY = "256MB"  # DuckDB's memory_limit for a query a remote caller sent
CONFINED_ANSWER = 64 << 20  # bytes of result a confined query returns at most


class SqlEngine:
    """One in-memory DuckDB connection whose views follow the snapshots of one ledger, or of
    several read as one (``ledger.union``: their rows side by side).

    ``confined``: for queries from callers not trusted with this machine (``chatsnapshot sql
    --server``, the web UI): SELECT statements only, no file outside the ledgers' directories,
    settings locked, memory bounded by ``CONFINED_MEMORY`` and the result by ``CONFINED_ANSWER``,
    one thread, and a query interrupted at its ``timeout``. Refusals raise ``QueryRefusedError``."""

    def __init__(self, *, confined: bool = False) -> None:
        self._confined = confined
        self._con: duckdb.DuckDBPyConnection | None = None  # connected on the first query
        self._lock = threading.Lock()
        self._files: tuple[str, ...] | None = None
        self._unsealed_key: tuple[tuple[int, int], ...] | None = None
        self._dead_letters: tuple[str, ...] | None = None  # the files the view reads (those that exist)

    def query(self, sources: Sequence[tuple[Snapshot, Layout]], sql: str, timeout: float | None = None) -> pa.Table:
        """Run ``sql`` against the views over the snapshots in ``sources``; raises duckdb.Error
        (``duckdb.InterruptException`` when ``timeout`` seconds passed first)."""
        if self._confined:
            refuse_writing(sql)
        with self._lock:
            if self._con is None:
                self._con = self._connect([layout.root for _, layout in sources])
            self._refresh(sources)
            with interrupted_after(self._con, timeout):
                return arrow_of(self._con.sql(sql), CONFINED_ANSWER if self._confined else None)

    def _connect(self, roots: Sequence[Path]) -> duckdb.DuckDBPyConnection:
        import duckdb  # not imported by readers that never run SQL

        con = duckdb.connect(":memory:")
        if self._confined:
            confine(con, roots)
        return con

    def _refresh(self, sources: Sequence[tuple[Snapshot, Layout]]) -> None:
        assert self._con is not None
        files = tuple(f"{layout.root}/{s.entry.file}" for snap, layout in sources for s in snap.segments
                      if s.file is not None)
        unsealed_key = tuple((snap.durable, sum(len(b) for b in snap.buffers)) for snap, _ in sources)
        if unsealed_key != self._unsealed_key:
            self._con.register("_unsealed", records_to_table([r for snap, _ in sources for r in snap.unsealed()]))
            self._unsealed_key = unsealed_key
        if files != self._files:
            if files:
                source = f"SELECT * FROM read_parquet([{', '.join(map(_quote, files))}], union_by_name = true)"
            else:
                source = "SELECT * FROM _unsealed WHERE false"
            self._con.execute(f"CREATE OR REPLACE VIEW _sealed AS {source}")
            create_views(self._con)
            self._files = files
        dead = tuple(str(layout.dead_letters) for _, layout in sources if layout.dead_letters.exists())
        if dead != self._dead_letters:
            self._con.execute(dead_letters_view(list(dead)))
            self._dead_letters = dead

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
