"""Causes that resolve (ledger.causes): producer-set ids, any arrival order, the same real cause."""

from __future__ import annotations

import itertools

import pytest

from chatsnapshot.ledger import Ledger, LedgerOptions
from chatsnapshot.ledger.ids import uuid7
from chatsnapshot.ledger.memory import MemoryLedger
from chatsnapshot.ledger.projections import causal_dag
from chatsnapshot.proto import attributes as A
from chatsnapshot.receiver.promotion import promote_logs, promote_traces
from tests.otlp import SpanRecorder, fact_attributes, request_of

RUN = "causes-run"


def _with_ids(recorder: SpanRecorder) -> dict[str, str]:
    """A run span, a turn child and a tool grandchild, every fact with its producer's own id
    (and no explicit cause: parentage says it). Returns {span name: its first fact's id}."""
    ids: dict[str, str] = {}

    def fact(span, name: str, event_type: str) -> None:
        event_id = uuid7()
        ids.setdefault(name, event_id)
        span.add_event(event_type, fact_attributes(event_type, {"what": name},
                                                   **{A.EVENT_ID: event_id, A.CORRELATION_ID: RUN}))

    t = recorder.tracer
    with t.start_as_current_span("run") as run:
        fact(run, "run", "execution.run_started")
        with t.start_as_current_span("turn") as turn:
            fact(turn, "turn", "execution.turn_started")
            with t.start_as_current_span("tool") as tool:
                fact(tool, "tool", "execution.tool_call")
                fact(tool, "tool-result", "execution.tool_result")
            fact(turn, "turn-end", "execution.turn_completed")
        fact(run, "run-end", "execution.run_completed")
    return ids


def _causes(store) -> dict[str, str | None]:
    return {e.payload["what"]: e.cause_id for e in store.replay(RUN)}


def test_with_producer_ids_a_childs_first_fact_resolves_to_its_parents_real_first_fact_in_every_order(tmp_path):
    recorder = SpanRecorder()
    ids = _with_ids(recorder)
    spans = recorder.spans()  # tool, turn, run: children end first
    seen = []
    for n, order in enumerate(itertools.permutations(spans)):
        requests = [request_of([s]) for s in order] + [request_of(spans[:1])]  # and one duplicate
        with Ledger.open(tmp_path / f"l{n}", options=LedgerOptions(seal_interval=3600)) as ledger:
            for i, request in enumerate(requests):
                ledger.append(promote_traces(request).envelopes)
                if i == 1:
                    ledger.seal()  # some sealed, some not: resolution reads both
            causes = _causes(ledger)
            assert ledger.verify().ok
            rows = ledger.sql("SELECT seq, cause_id::VARCHAR AS cause, dangling FROM causes ORDER BY seq").to_pylist()
            by_seq = {e.seq: e.cause_id for e in ledger.replay(RUN)}
            assert {r["seq"]: r["cause"] for r in rows} == by_seq  # the SQL view says what replay says
            assert not any(r["dangling"] for r in rows[1:])
            assert not causal_dag(ledger.replay(RUN)).dangling
        seen.append(causes)
    assert causes == {"run": None, "turn": ids["run"], "tool": ids["turn"], "tool-result": ids["tool"],
                      "turn-end": ids["turn"], "run-end": ids["run"]}
    assert all(s == causes for s in seen)  # identical in every order


def test_the_stored_cause_stays_what_promotion_derived_and_the_hash_covers_it():
    recorder = SpanRecorder()
    ids = _with_ids(recorder)
    envelopes = promote_traces(request_of(recorder.spans())).envelopes
    turn = next(e for e in envelopes if e.payload["what"] == "turn")
    assert turn.causation_id != ids["run"]  # the anchor of the run span: derived, deterministic
    store = MemoryLedger.open("causes-stored")
    try:
        store.append(envelopes)
        replayed = next(e for e in store.replay(RUN) if e.payload["what"] == "turn")
        assert replayed.causation_id == turn.causation_id and replayed.cause_id == ids["run"]
        assert store.verify().ok
    finally:
        store.close()


def test_a_log_fact_resolves_to_the_first_fact_of_the_span_it_was_emitted_in():
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

    recorder = SpanRecorder()
    logs = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    own = uuid7()
    with recorder.tracer.start_as_current_span("step") as span:
        span.add_event("execution.turn_started", fact_attributes(
            "execution.turn_started", {"what": "span-fact"}, **{A.EVENT_ID: own, A.CORRELATION_ID: RUN}))
        provider.get_logger("t").emit(  # in the span's context: the record carries its ids
            event_name="execution.message",
            attributes=fact_attributes("execution.message", {"what": "log-fact", "content": "hi"},
                                       **{A.CORRELATION_ID: RUN}))
    store = MemoryLedger.open("causes-logs")
    try:
        store.append(promote_logs(encode_logs(logs.get_finished_logs())).envelopes)  # the log first
        store.append(promote_traces(request_of(recorder.spans())).envelopes)
        assert _causes(store) == {"log-fact": own, "span-fact": None}
    finally:
        store.close()


@pytest.mark.parametrize("store_kind", ["disk", "memory"])
def test_a_cause_whose_span_carries_no_fact_still_dangles_and_says_so(tmp_path, store_kind):
    recorder = SpanRecorder()
    with recorder.tracer.start_as_current_span("no facts here"), \
            recorder.tracer.start_as_current_span("child") as child:
        child.add_event("execution.turn_started", fact_attributes(
            "execution.turn_started", {"what": "orphan"}, **{A.EVENT_ID: uuid7(), A.CORRELATION_ID: RUN}))
    store = Ledger.open(tmp_path) if store_kind == "disk" else MemoryLedger.open(f"causes-dangling-{tmp_path.name}")
    try:
        store.append(promote_traces(request_of(recorder.spans())).envelopes)
        (env,) = store.replay(RUN)
        assert env.cause_id == env.causation_id is not None
        assert store.sql("SELECT dangling FROM causes").column(0).to_pylist() == [True]
        assert causal_dag([env]).dangling
    finally:
        store.close()


def test_log_facts_of_one_span_never_cause_each_other_in_a_cycle():
    """Two log-based facts of a fact-less span both name the span's anchor: the later one is caused
    by the earlier; the earlier has no fact before it (and a log record does not know its span's
    parent), so its cause dangles rather than pointing at the later one."""
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

    recorder = SpanRecorder()
    logs = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    with recorder.tracer.start_as_current_span("parent") as parent:
        parent.add_event("execution.run_started", fact_attributes(
            "execution.run_started", {"what": "parent"}, **{A.EVENT_ID: uuid7(), A.CORRELATION_ID: RUN}))
        with recorder.tracer.start_as_current_span("quiet"):
            for n, what in enumerate(("early", "late")):
                provider.get_logger("t").emit(timestamp=1_800_000_000_000_000_000 + n, event_name="execution.message",
                                              attributes=fact_attributes("execution.message", {"what": what},
                                                                         **{A.CORRELATION_ID: RUN}))
    store = MemoryLedger.open("causes-no-cycle")
    try:
        store.append(promote_logs(encode_logs(logs.get_finished_logs())).envelopes)
        store.append(promote_traces(request_of(recorder.spans())).envelopes)
        facts = {e.payload["what"]: e for e in store.replay(RUN)}
        for read in (list(store.replay(RUN)), store.since(0), list(store.replay(RUN, after_seq=1))):
            causes = {e.payload["what"]: e.cause_id for e in read}
            assert causes.get("late", facts["early"].event_id) == facts["early"].event_id
            assert causes.get("early", facts["early"].causation_id) == facts["early"].causation_id  # not "late"
        sql = {r["seq"]: r["cause"] for r in store.sql(
            "SELECT seq, cause_id::VARCHAR AS cause FROM causes").to_pylist()}
        assert sql == {e.seq: e.cause_id for e in store.replay(RUN)}
        assert [n.label for n in causal_dag(store.replay(RUN)).dangling] == ["message"]  # early's, said so
    finally:
        store.close()


def test_a_cause_resolves_the_same_in_any_read_window():
    recorder = SpanRecorder()
    with recorder.tracer.start_as_current_span("p") as p:
        for what in ("p0", "p1"):
            p.add_event("execution.turn_started", fact_attributes(
                "execution.turn_started", {"what": what}, **{A.EVENT_ID: uuid7(), A.CORRELATION_ID: RUN}))
        with recorder.tracer.start_as_current_span("c") as c:
            c.add_event("execution.tool_call", fact_attributes(
                "execution.tool_call", {"what": "c"}, **{A.EVENT_ID: uuid7(), A.CORRELATION_ID: RUN}))
    store = MemoryLedger.open("causes-windows")
    try:
        store.append(promote_traces(request_of(recorder.spans())).envelopes)
        whole = {e.payload["what"]: e.cause_id for e in store.replay(RUN)}
        for after in range(3):
            window = {e.payload["what"]: e.cause_id for e in store.replay(RUN, after_seq=after)}
            assert window == {k: v for k, v in whole.items() if k in window}
        assert {e.payload["what"]: e.cause_id for e in store.since(1)} == {k: whole[k] for k in ("p1", "c")}
    finally:
        store.close()
