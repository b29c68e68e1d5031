"""The canonical encoding and the WAL frame."""

from __future__ import annotations

import hashlib

from chatsnapshot.ledger import Ledger
from chatsnapshot.ledger._engine.wal import frame, scan
from chatsnapshot.ledger.records import MAGIC, SALT_BYTES, Record, decode, intact, preimage, wal_body


def test_encode_decode_round_trip_with_and_without_optional_fields(tmp_path, facts):
    base = facts(1)[0]
    rich = base.__class__.create("execution.llm_call", correlation_id="ü-run", payload={"t": "naïve ✓"},
                                 causation_id=base.event_id, trace_id="ab" * 16, span_id="cd" * 8, agent="a")
    with Ledger.open(tmp_path) as ledger:
        ledger.append([base, rich])
        ledger.seal()
        records = [r for r in _records(ledger)]
    for r in records:
        body = wal_body(r)
        assert body[:4] == MAGIC and len(r.payload_salt) == SALT_BYTES and r.payload_digest is None
        assert hashlib.sha256(preimage(r)).digest() == r.hash
        assert body == preimage(r) + r.payload_salt + r.payload.encode()
        assert intact(body, r.hash) and decode(body, r.hash) == r


def test_a_frame_whose_salt_or_payload_changed_does_not_check_out(tmp_path, facts):
    with Ledger.open(tmp_path) as ledger:
        ledger.append(facts(1))
        (r,) = _records(ledger)
    body = bytearray(wal_body(r))
    for at in (len(body) - 1, len(preimage(r)), 10):  # the payload, the salt, the preimage
        damaged = bytearray(body)
        damaged[at] ^= 1
        assert not intact(bytes(damaged), r.hash)


def test_two_ledgers_given_the_same_fact_salt_it_differently(tmp_path, facts):
    fact = facts(1)[0]
    hashes = []
    for name in ("a", "b"):
        with Ledger.open(tmp_path / name) as ledger:
            ledger.append([fact])
            hashes.append(next(iter(ledger.replay(fact.correlation_id))).hash)
    assert hashes[0] != hashes[1]  # a digest without its salt says nothing, even of the same payload


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
    path.write_bytes(b"".join(frame(wal_body(r), r.hash) for r in records))
    result = scan(path)
    assert result.records == records and result.damage == [] and result.valid_end == path.stat().st_size
    assert all(isinstance(r, Record) for r in result.records)
