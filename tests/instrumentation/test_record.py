"""record(), correlation() and configure() with the embedded ledger."""

from __future__ import annotations

import itertools
import logging
import threading

import pytest

import chatsnapshot
from chatsnapshot import Ledger
from chatsnapshot.instrumentation.configuration import _install


@pytest.fixture(autouse=True)
def no_pipeline_left_behind():
    yield
    _install(None)


def replay_all(path):
    with Ledger.open(path, readonly=True) as ledger:
        return {r.correlation_id: list(ledger.replay(r.correlation_id)) for r in ledger.runs()}, ledger.verify()


def test_ten_thousand_facts_from_threads_replay_in_order_with_intact_chains(tmp_path):
    pipeline = chatsnapshot.configure(ledger=tmp_path / "ledger", service_name="workers")
    recorded: dict[str, list[str]] = {}

    def worker(k: int) -> None:
        with chatsnapshot.correlation(f"run-{k}") as run:
            ids = recorded[run] = []
            for i in range(1000):
                ids.append(chatsnapshot.record("system.task_completed", payload={"i": i}, origin="system"))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert pipeline.force_flush()
    pipeline.shutdown()
    runs, report = replay_all(tmp_path / "ledger")
    assert report.ok and report.envelopes == 10_000
    assert sorted(runs) == sorted(recorded)
    for run, envelopes in runs.items():
        assert [e.event_id for e in envelopes] == recorded[run]  # every fact, in the order recorded
        assert [e.payload["i"] for e in envelopes] == list(range(1000))
        assert envelopes[0].causation_id is None
        assert all(b.causation_id == a.event_id for a, b in itertools.pairwise(envelopes))
        assert {e.source.service for e in envelopes} == {"workers"}


def test_a_fact_inside_a_long_lived_span_does_not_wait_for_it(tmp_path):
    from opentelemetry.sdk.trace import TracerProvider

    with Ledger.open(tmp_path / "ledger") as ledger:
        pipeline = chatsnapshot.configure(ledger=ledger)
        tracer = TracerProvider().get_tracer("app")
        with tracer.start_as_current_span("a long operation") as span:
            event_id = chatsnapshot.record("system.workflow_started")
            assert pipeline.force_flush()
            trace_id = format(span.get_span_context().trace_id, "032x")
            [envelope] = ledger.replay(trace_id)  # committed while the span is still open
        pipeline.shutdown()
    assert envelope.event_id == event_id and envelope.trace_id == trace_id  # correlation: the active trace


def test_spans_and_logs_transports_store_the_same_envelopes(tmp_path):
    stored = {}
    for transport in ("spans", "logs"):
        pipeline = chatsnapshot.configure(ledger=tmp_path / transport, transport=transport)
        with chatsnapshot.correlation("same-run"):
            first = chatsnapshot.record("system.workflow_started", payload={"n": 1},
                                        event_id="0190a5c4-0000-7000-8000-000000000001")
            chatsnapshot.record("integration.call", payload={"url": "https://example.com"}, origin="integration",
                                event_id="0190a5c4-0000-7000-8000-000000000002", agent="fetcher")
            chatsnapshot.record("system.workflow_completed", causation_id=first,
                                event_id="0190a5c4-0000-7000-8000-000000000003")
        pipeline.shutdown()
        runs, report = replay_all(tmp_path / transport)
        assert report.ok
        stored[transport] = [(e.event_id, e.event_type, e.payload_json, e.correlation_id, e.causation_id, e.source,
                              e.occurred_at > 0) for e in runs["same-run"]]
    assert len(stored["spans"]) == 3 and stored["spans"] == stored["logs"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"event_type": "nonsense.thing"}, "known namespace"),
    ({"event_type": "system.ok", "payload": {"when": object()}}, "not JSON-serialisable"),
    ({"event_type": "system.ok", "payload": ["not", "a", "dict"]}, "payload must be a dict"),
    ({"event_type": "system.ok", "origin": "robot"}, "origin must be one of"),
    ({"event_type": "system.ok", "event_id": "not-a-uuid"}, "event_id must be a UUID"),
])
def test_bad_arguments_raise_value_error_saying_what_to_change(tmp_path, kwargs, message):
    chatsnapshot.configure(ledger=tmp_path / "ledger")
    event_type = kwargs.pop("event_type")
    with pytest.raises(ValueError, match=message):
        chatsnapshot.record(event_type, **kwargs)


def test_an_exporter_that_cannot_store_never_raises_and_logs_once(tmp_path, caplog):
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("this is a file, not a ledger directory\n")
    pipeline = chatsnapshot.configure(ledger=not_a_directory)
    caplog.set_level(logging.ERROR, logger="chatsnapshot.exporter")
    for i in range(50):
        chatsnapshot.record("system.task_completed", payload={"i": i})
        if i % 10 == 9:
            pipeline.force_flush()  # several exports, each failing
    pipeline.shutdown()
    errors = [r for r in caplog.records if r.name == "chatsnapshot.exporter"]
    assert len(errors) == 1 and "facts not stored" in errors[0].getMessage()
