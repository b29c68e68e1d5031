"""The canonical encoding and the WAL frame."""

from __future__ import annotations

import hashlib

from chatsnapshot.ledger import Ledger
from chatsnapshot.ledger._engine.wal import frame, scan
from chatsnapshot.ledger.records import Record, decode, encode


def test_encode_decode_round_trip_with_and_without_optional_fields(tmp_path, facts):
    base = facts(1)[0]
    rich = base.__class__.create("execution.llm_call", correlation_id="ü-run", payload={"t": "naïve ✓"},
                                 causation_id=base.event_id, trace_id="ab" * 16, span_id="cd" * 8, agent="a")
    with Ledger.open(tmp_path) as ledger:
        ledger.append([base, rich])
        ledger.seal()
        records = [r for r in _records(ledger)]
    for r in records:
        body = encode(r)
        assert hashlib.sha256(body).digest() == r.hash
        assert decode(body, r.hash) == r


def _records(ledger):
    from chatsnapshot.ledger._engine.snapshot import replay_records

    snap = ledger._snapshot()
    for run in ledger.runs():
        yield from replay_records(snap, run.correlation_id)


def test_wal_scan_reads_back_every_frame(tmp_path, facts):
    with Ledger.open(tmp_path) as ledger:
        ledger.append(facts(10))
        records = list(_records(ledger))
    path = tmp_path / "x.wal"
    path.write_bytes(b"".join(frame(encode(r), r.hash) for r in records))
    result = scan(path)
    assert result.records == records and result.damage == [] and result.valid_end == path.stat().st_size
    assert all(isinstance(r, Record) for r in result.records)
