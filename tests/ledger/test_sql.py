"""SQL views over sealed segments and the unsealed tail."""

from __future__ import annotations

import duckdb
import pytest

from chatsnapshot.ledger import Ledger, LedgerOptions

ENVELOPE_COLUMNS = [
    "event_id", "event_type", "schema_version", "occurred_at", "recorded_at", "source_origin", "source_runtime",
    "source_service", "source_agent", "correlation_id", "causation_id", "trace_id", "span_id", "parent_span_id",
    "seq", "position", "payload", "prev_hash", "hash", "payload_salt", "payload_digest", "erased",
]


def test_envelopes_view_spans_sealed_and_unsealed_and_matches_replay(tmp_path, facts):
    with Ledger.open(tmp_path, options=LedgerOptions(seal_interval=3600)) as ledger:
        ledger.append(facts(30))
        ledger.seal()
        ledger.append(facts(12))  # unsealed
        table = ledger.sql("SELECT * FROM envelopes WHERE correlation_id = 'run-2' ORDER BY seq")
        assert table.column_names == ENVELOPE_COLUMNS
        replayed = list(ledger.replay("run-2"))
        assert table.column("seq").to_pylist() == [e.seq for e in replayed] == list(range(1, 15))
        assert table.column("event_id").to_pylist() == [e.event_id for e in replayed]
        assert table.column("hash").to_pylist() == [e.hash for e in replayed]
        assert table.column("occurred_at").cast("int64").to_pylist() == [e.occurred_at for e in replayed]
        described = ledger.sql("DESCRIBE envelopes")
        types = dict(zip(described.column("column_name").to_pylist(), described.column("column_type").to_pylist(),
                         strict=True))
        assert (types["event_id"], types["occurred_at"], types["payload"]) == ("UUID", "TIMESTAMPTZ_NS",
                                                                               "JSON")


def test_runs_view(tmp_path, facts):
    with Ledger.open(tmp_path) as ledger:
        batch = facts(10, correlations=2) + facts(3, correlations=1, prefix="other", event_type="system.task_done")
        ledger.append(batch)
        runs = {r.correlation_id: r for r in ledger.runs()}
        assert set(runs) == {"run-0", "run-1", "other-0"}
        assert runs["run-0"].envelopes == 5 and runs["run-0"].event_types == {"execution.message": 5}
        assert runs["other-0"].last_event_type == "system.task_done" and runs["other-0"].last_seq == 3
        first = [e for e in batch if e.correlation_id == "run-1"]
        assert runs["run-1"].first_occurred_at == min(e.occurred_at for e in first)
        assert runs["run-1"].last_occurred_at == max(e.occurred_at for e in first)


def test_json_payload_is_queryable(tmp_path, facts):
    with Ledger.open(tmp_path) as ledger:
        ledger.append(facts(9))
        (row,) = ledger.sql("SELECT sum((payload->>'i')::INT) AS s FROM envelopes").to_pylist()
        assert row["s"] == sum(range(9))


def test_invalid_sql_raises_duckdb_error(tmp_path):
    with Ledger.open(tmp_path) as ledger, pytest.raises(duckdb.Error):
        ledger.sql("SELECT nope FROM envelopes")
