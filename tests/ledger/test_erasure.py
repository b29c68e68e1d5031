"""Erasure that keeps the chain: payloads gone from every file, every hash and checkpoint still whole."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from chatsnapshot.errors import EnvelopeError, ErasureError
from chatsnapshot.ledger import Envelope, Ledger, LedgerOptions, envelope_to_json
from chatsnapshot.ledger.checkpoint import verify_proof
from chatsnapshot.ledger.results import AppendStatus
from tests.ledger.independent_hash import envelope_hash

FIXTURE = Path(__file__).parent / "fixtures" / "ledger-format-1"
OPTIONS = LedgerOptions(seal_interval=3600, auto_compact=False)


def _facts(run: str, n: int, secret: str) -> list[Envelope]:
    return [Envelope.create("execution.message", correlation_id=run, origin="agent", runtime="custom",
                            payload={"content": f"{secret} message {i}", "i": i}) for i in range(n)]


def _ledger_with_three_runs(path: Path) -> tuple[Ledger, str]:
    """Three runs over three segments and an unsealed tail; returns the ledger and a checkpoint of it."""
    ledger = Ledger.open(path, options=OPTIONS)
    for part in range(3):
        for run in ("keep-a", "forget-me", "keep-b"):
            ledger.append(_facts(run, 4, secret=f"SECRET-{run}-{part}"))
        ledger.seal()
    note = ledger.checkpoint()
    ledger.append(_facts("forget-me", 2, secret="SECRET-forget-me-tail"))  # unsealed until erase seals it
    return ledger, note


def _all_strings(path: Path) -> str:
    """Every text and binary value of every Parquet file under ``path``, read with pyarrow, as one text."""
    import pyarrow as pa

    texts = []
    for f in sorted(path.rglob("*.parquet")):
        table = pq.read_table(f)
        for column in table.columns:
            storage = column.type.storage_type if isinstance(column.type, pa.BaseExtensionType) else column.type
            if pa.types.is_string(storage) or pa.types.is_binary(storage) or pa.types.is_fixed_size_binary(storage):
                texts.extend(map(repr, column.to_pylist()))
    return "\n".join(texts)


def test_erasing_one_run_removes_its_payloads_from_every_file_and_keeps_every_proof(tmp_path):
    ledger, note = _ledger_with_three_runs(tmp_path)
    with ledger:
        before = {run: list(ledger.replay(run)) for run in ("keep-a", "forget-me", "keep-b")}
        report = ledger.erase("correlation_id = 'forget-me'", by="dpo@example.com", reason="GDPR art. 17 request")

        assert report.erased == 14 and report.runs == {"forget-me": 14} and report.segments_rewritten == 4
        assert "SECRET-forget-me" not in _all_strings(tmp_path)
        assert all(b"SECRET-forget-me" not in p.read_bytes() for p in (tmp_path / "wal").iterdir())
        assert "SECRET-keep-a-2" in _all_strings(tmp_path)  # the check can see a payload that is there

        after = list(ledger.replay("forget-me"))
        assert [e.hash for e in after] == [e.hash for e in before["forget-me"]]
        assert all(e.erased and e.payload_salt is None and e.payload_digest for e in after)
        marker = after[0].payload["erasure"]
        assert marker["by"] == "dpo@example.com" and marker["reason"] == "GDPR art. 17 request"
        assert marker["record"] == report.record
        for run in ("keep-a", "keep-b"):
            assert list(ledger.replay(run)) == before[run]

        result = ledger.verify()
        assert result.ok, result.breaks + result.problems
        assert result.erased == 14
        assert ledger.verify_checkpoint(note).ok  # the checkpoint taken before the erasure still holds
        erasures = list(ledger.replay("chatsnapshot.erasures"))
        assert [e.event_type for e in erasures] == ["system.erasure"]
        assert set(erasures[0].payload["event_ids"]) == {e.event_id for e in after}

        proof = ledger.prove(after[0].event_id)  # an auditor can still prove the erased fact was recorded
        assert verify_proof(proof, ledger.checkpoint(), None)
    with Ledger.open(tmp_path, readonly=True) as reader:  # and so can anyone opening the directory later
        result = reader.verify()
        assert result.ok and result.erased == 14
        assert reader.verify_checkpoint(note).ok


def test_an_erasure_by_sql_condition_touches_only_what_it_selects_and_can_be_counted_first(tmp_path):
    ledger, _ = _ledger_with_three_runs(tmp_path)
    with ledger:
        where = "correlation_id = 'keep-a' AND payload->>'$.i' IN ('0', '1')"
        dry = ledger.erase(where, by="ops", reason="test", dry_run=True)
        assert dry.dry_run and dry.erased == 6 and dry.segments_rewritten == 0
        assert not any(e.erased for e in ledger.replay("keep-a"))
        done = ledger.erase(where, by="ops", reason="test")
        assert done.erased == 6
        erased = [e.payload.get("i") for e in ledger.replay("keep-a") if not e.erased]
        assert erased == [2, 3] * 3
        again = ledger.erase(where, by="ops", reason="test")  # what it matched in the payload is gone
        assert again.erased == 0 and again.record is None
        rest = ledger.erase("correlation_id = 'keep-a'", by="ops", reason="test")
        assert rest.erased == 6 and rest.already_erased == 6
        assert ledger.verify().ok and ledger.verify().erased == 12


def test_a_redelivered_fact_whose_payload_was_erased_is_a_duplicate_and_stays_erased(tmp_path):
    ledger, _ = _ledger_with_three_runs(tmp_path)
    with ledger:
        original = next(iter(ledger.replay("keep-b")))
        fact = Envelope(original.event_id, original.event_type, original.correlation_id, original.occurred_at,
                        original.source, original.payload_json)
        ledger.erase("correlation_id = 'keep-b'", by="ops", reason="test")
        (result,) = ledger.append([fact])
        assert result.status == AppendStatus.DUPLICATE and "erased" in (result.reason or "")
        assert next(iter(ledger.replay("keep-b"))).erased
        other = Envelope(original.event_id, "execution.tool_call", original.correlation_id, original.occurred_at,
                         original.source, '{"name":"f"}')
        (conflict,) = ledger.append([other])  # what is left of it still has to match
        assert conflict.status == AppendStatus.CONFLICT and "event_type" in (conflict.reason or "")


@pytest.mark.parametrize("where, message", [
    ("", "the selection is empty"),
    ("no_such_column = 1", "not valid SQL"),
])
def test_an_erasure_that_cannot_be_done_says_why_and_changes_nothing(tmp_path, where, message):
    ledger, _ = _ledger_with_three_runs(tmp_path)
    with ledger:
        files = sorted(p.name for p in (tmp_path / "segments").iterdir())
        with pytest.raises(ErasureError, match=message):
            ledger.erase(where, by="ops", reason="test")
        with pytest.raises(ErasureError, match="say reason"):
            ledger.erase("true", by="ops", reason=" ")
        assert sorted(p.name for p in (tmp_path / "segments").iterdir()) == files
        assert not any(e.erased for run in ("keep-a", "keep-b") for e in ledger.replay(run))


def test_a_payload_replaced_by_hand_keeping_its_digest_is_named_by_verify(tmp_path):
    """The chain cannot tell an erasure from a hand edit that keeps the digest; the erasure
    facts can: an erased envelope no system.erasure fact names is a break."""
    import pyarrow as pa

    from chatsnapshot.ledger._engine.erasure import _rewrite
    from chatsnapshot.ledger.ids import uuid_bytes

    ledger, _ = _ledger_with_three_runs(tmp_path)
    with ledger:
        victim = list(ledger.replay("keep-a"))[5]
        parts = ledger._engine._parts
        entry = next(e for e in parts.keeper.current.segments
                     if e.first_position <= victim.position <= e.last_position)
        _rewrite(parts, ledger._layout, OPTIONS, entry, pa.array([uuid_bytes(victim.event_id)], pa.binary(16)),
                 '{"erasure":{"by":"nobody"}}')
        result = ledger.verify()
        assert [(b.correlation_id, b.seq) for b in result.breaks] == [("keep-a", victim.seq)]
        assert "no system.erasure fact" in result.breaks[0].reason


def test_a_format_1_ledger_is_migrated_keeps_its_checkpoint_and_refuses_to_erase_old_payloads(tmp_path):
    path = tmp_path / "ledger"
    shutil.copytree(FIXTURE, path)
    old_note = next((path / "checkpoints").iterdir()).read_text()
    with Ledger.open(path) as ledger:
        assert any("migrated the ledger from format 1 to 2" in line for line in ledger.recovery.lines())
        assert json.loads((path / "MANIFEST").read_text())["version"] == 2
        assert [len(list(ledger.replay(r))) for r in ("fixture-a", "fixture-b")] == [3, 4]
        assert ledger.verify().ok and ledger.verify_checkpoint(old_note).ok
        ledger.append(_facts("fixture-b", 2, secret="SECRET-new") + _facts("new-run", 2, secret="SECRET-new"))
        with pytest.raises(ErasureError, match="format 1"):
            ledger.erase("correlation_id LIKE 'fixture-%'", by="ops", reason="test")
        assert not any(e.erased for e in ledger.replay("fixture-b"))
        report = ledger.erase("payload->>'$.content' LIKE 'SECRET-new%'", by="ops", reason="test")
        assert report.runs == {"fixture-b": 2, "new-run": 2}
        result = ledger.verify()
        assert result.ok and result.erased == 4
        assert ledger.verify_checkpoint(old_note).ok
        ledger.compact()  # merging format-1 and format-2 segments keeps both kinds intact
        assert ledger.verify().ok and ledger.verify_checkpoint(old_note).ok
    with Ledger.open(path, readonly=True) as reader:
        rows = reader.sql("SELECT correlation_id, count(*) FILTER (erased) AS erased, "
                          "count(*) FILTER (payload_salt IS NULL AND NOT erased) AS format_1 "
                          "FROM envelopes GROUP BY 1 ORDER BY 1").to_pylist()
        assert rows == [
            {"correlation_id": "chatsnapshot.erasures", "erased": 0, "format_1": 0},
            {"correlation_id": "fixture-a", "erased": 0, "format_1": 3},
            {"correlation_id": "fixture-b", "erased": 2, "format_1": 4},
            {"correlation_id": "new-run", "erased": 2, "format_1": 0},
        ]


def test_the_json_form_of_an_erased_envelope_carries_what_its_hash_needs(tmp_path):
    ledger, _ = _ledger_with_three_runs(tmp_path)
    with ledger:
        ledger.erase("correlation_id = 'keep-b'", by="ops", reason="test")
        env = next(iter(ledger.replay("keep-b")))
    doc = envelope_to_json(env)
    assert doc["payload_salt"] is None and len(doc["payload_digest"]) == 64 and "erasure" in doc["payload"]


def test_a_ledger_opened_not_erasable_writes_format_1_records_that_verify_and_refuse_erasure(tmp_path):
    with Ledger.open(tmp_path, options=LedgerOptions(erasable=False)) as ledger:
        ledger.append(_facts("run", 3, secret="x"))
        ledger.seal()
        ledger.append(_facts("run", 2, secret="y"))  # sealed on close
    with Ledger.open(tmp_path) as ledger:
        envelopes = list(ledger.replay("run"))
        assert len(envelopes) == 5 and all(e.payload_salt is None and e.payload_digest is None for e in envelopes)
        assert all(envelope_hash(e) == e.hash for e in envelopes)
        assert ledger.verify().ok
        with pytest.raises(ErasureError, match="format 1"):
            ledger.erase("true", by="ops", reason="test")


def test_restoring_a_run_whose_payloads_were_erased_is_refused_with_the_reason(tmp_path):
    from chatsnapshot.instrumentation.flows import recorded_facts

    ledger, _ = _ledger_with_three_runs(tmp_path)
    with ledger:
        ledger.erase("correlation_id = 'keep-a' AND seq = 2", by="ops", reason="test")
        with pytest.raises(LookupError, match=r"1 fact\(s\) of correlation 'keep-a' were erased \(seq 2\)"):
            recorded_facts(ledger, "keep-a")
        assert len(recorded_facts(ledger, "keep-b")) == 12


def test_a_marker_changed_after_the_erasure_is_named_by_verify(tmp_path):
    """The digest stays, so a forger could put any text where the marker was; the erasure record
    says what the marker must be, to the byte."""
    import pyarrow as pa

    from chatsnapshot.ledger._engine.segment import file_sha256

    ledger, _ = _ledger_with_three_runs(tmp_path)
    with ledger:
        ledger.erase("correlation_id = 'keep-a'", by="ops", reason="test")
        victim = next(iter(ledger.replay("keep-a")))
    manifest = json.loads((tmp_path / "MANIFEST").read_text())
    entry = next(e for e in manifest["segments"] if e["first_position"] <= victim.position <= e["last_position"])
    path = tmp_path / entry["file"]
    table = pq.read_table(path)
    row = next(i for i, s in enumerate(table.column("seq").to_pylist())
               if s == victim.seq and table.column("correlation_id")[i].as_py() == "keep-a")
    payloads = table.column("payload").combine_chunks().storage.to_pylist()
    payloads[row] = '{"content":"I approve the transfer","role":"assistant"}'
    index = table.schema.get_field_index("payload")
    forged = table.set_column(index, table.schema.field(index), pa.ExtensionArray.from_storage(
        table.schema.field(index).type, pa.array(payloads, pa.string())))
    pq.write_table(forged, path)
    entry["sha256"], entry["bytes"] = file_sha256(path), path.stat().st_size  # a careful forger
    (tmp_path / "MANIFEST").write_text(json.dumps(manifest))
    with Ledger.open(tmp_path, readonly=True) as reader:
        result = reader.verify()
    assert [(b.correlation_id, b.seq) for b in result.breaks] == [("keep-a", victim.seq)]
    assert "not the marker" in result.breaks[0].reason


def test_a_fact_that_poses_as_an_erasure_record_is_refused_everywhere(tmp_path):
    fake = Envelope.create("system.erasure", correlation_id="chatsnapshot.erasures", payload={"event_ids": ["x"]})
    with Ledger.open(tmp_path) as ledger, pytest.raises(EnvelopeError, match="written only by the ledger"):
        ledger.append([fake])
    other = Envelope.create("execution.message", correlation_id="chatsnapshot.erasures", payload={"content": "x"})
    with Ledger.open(tmp_path) as ledger, pytest.raises(ValueError, match="written only by the ledger"):
        ledger.append([other])


def test_promotion_refuses_a_span_fact_posing_as_an_erasure_record():
    from chatsnapshot.receiver.promotion import promote_traces
    from tests.otlp import SpanRecorder, fact_attributes, request_of

    recorder = SpanRecorder()
    with recorder.tracer.start_as_current_span("s") as span:
        span.add_event("system.erasure", fact_attributes("system.erasure", {"event_ids": ["x"]}))
    promotion = promote_traces(request_of(recorder.spans()))
    assert promotion.envelopes == [] and "written only by the ledger" in promotion.rejected[0].reason
