"""Fork a run: a new correlation that begins with where it came from, then the original's facts up
to a seq (copies), then its own; the original untouched; a fork of a fork works; lineage shows in
runs, the SQL view and the DAG."""

from __future__ import annotations

import json

import pytest

from chatsnapshot.ledger import AppendStatus, Envelope, Ledger, fork
from chatsnapshot.ledger.fork import FORK_TYPE, fork_envelopes
from chatsnapshot.ledger.memory import MemoryLedger
from chatsnapshot.ledger.payloads import check
from chatsnapshot.ledger.projections import causal_dag
from tests.cli.test_cli import run_cli


def story(run: str) -> list[Envelope]:
    facts: list[Envelope] = []
    for k, (kind, payload) in enumerate([
        ("execution.run_started", {"agent": "a"}), ("execution.message", {"role": "user", "content": "hi"}),
        ("execution.tool_call", {"name": "look", "id": "t1"}), ("execution.tool_result", {"name": "look", "id": "t1"}),
        ("execution.message", {"role": "assistant", "content": "done"}), ("execution.run_completed", {"status": "ok"}),
    ]):
        facts.append(Envelope.create(kind, correlation_id=run, payload=payload, origin="agent", agent="a",
                                     occurred_at=1_700_000_000_000_000_000 + k,
                                     causation_id=facts[-1].event_id if facts else None))
    return facts


@pytest.fixture(params=["disk", "memory"])
def ledger(request, tmp_path):
    opened = Ledger.open(tmp_path / "ledger") if request.param == "disk" else MemoryLedger.open(tmp_path / "m")
    opened.append(story("orig"))
    yield opened
    opened.close()


def test_a_fork_is_the_prefix_then_its_own_facts_and_the_original_is_untouched(ledger):
    before = [(e.event_id, e.hash) for e in ledger.replay("orig")]
    new = fork(ledger, "orig", 3)
    facts = list(ledger.replay(new))
    marker, copies = facts[0], facts[1:]
    original = list(ledger.replay("orig"))
    assert marker.event_type == FORK_TYPE and marker.seq == 1 and marker.causation_id is None
    assert marker.payload == {"forked_from": "orig", "at_seq": 3, "fact_id": original[2].event_id}
    assert check(marker.event_type, marker.payload) == []  # the published schema
    assert [(c.event_type, c.payload, c.occurred_at, c.source) for c in copies] == \
        [(o.event_type, o.payload, o.occurred_at, o.source) for o in original[:3]]
    assert [c.seq for c in copies] == [2, 3, 4]
    assert copies[0].causation_id == marker.event_id  # the original's root hangs from the marker
    assert [c.causation_id for c in copies[1:]] == [c.event_id for c in copies[:-1]]  # causes mapped onto copies
    assert not {c.event_id for c in copies} & {o.event_id for o in original}
    assert [(e.event_id, e.hash) for e in ledger.replay("orig")] == before  # untouched
    assert ledger.verify().ok
    # lineage
    runs = {r.correlation_id: r for r in ledger.runs()}
    assert runs[new].forked_from == "orig" and runs["orig"].forked_from is None
    assert ledger.sql("SELECT forked_from, forked_at_seq FROM run_lineage").to_pylist() == [
        {"forked_from": "orig", "forked_at_seq": 3}]
    dag = causal_dag(facts)
    assert dag.forked_from == {"forked_from": "orig", "at_seq": 3, "fact_id": original[2].event_id}
    assert json.loads(dag.to_json())["forked_from"]["forked_from"] == "orig"
    # then its own facts: the fork continues
    more = Envelope.create("execution.message", correlation_id=new, causation_id=copies[-1].event_id,
                           payload={"role": "assistant", "content": "another way"})
    assert ledger.append([more])[0].seq == 5


def test_a_fork_of_a_fork_and_the_same_fork_twice(ledger):
    first = fork(ledger, "orig", 4, "first-fork")
    second = fork(ledger, first, 3, "second-fork")  # the marker and two copies of the first fork's copies
    facts = list(ledger.replay(second))
    assert facts[0].payload["forked_from"] == first and len(facts) == 4
    assert [f.payload for f in facts[1:]] == [f.payload for f in list(ledger.replay(first))[:3]]
    again = fork_envelopes(list(ledger.replay("orig")), 4, "first-fork")  # same run, place and id: same facts
    assert [r.status for r in ledger.append(again)] == [AppendStatus.DUPLICATE] * 5
    with pytest.raises(ValueError, match=r"seqs 1\.\.6"):
        fork(ledger, "orig", 7)
    with pytest.raises(ValueError, match="own"):
        fork(ledger, "orig", 2, "orig")
    with pytest.raises(ValueError, match="already exists"):
        fork(ledger, "orig", 2, "first-fork")  # into another fork: refused, nothing appended
    assert len(list(ledger.replay("first-fork"))) == 5
    with pytest.raises(LookupError):
        fork(ledger, "nope", 1)


def test_the_fork_command_prints_the_new_run_and_runs_shows_the_lineage(tmp_path):
    with Ledger.open(tmp_path / "ledger") as ledger:
        ledger.append(story("0190b6a2-7c4e-7d3a-9f1e-2b8c4d5e6f70"))
    done = run_cli("--ledger", str(tmp_path / "ledger"), "fork", "4d5e6f70", "--at", "2")
    assert done.returncode == 0, done.stderr
    new = done.stdout.strip()
    runs = json.loads(run_cli("--ledger", str(tmp_path / "ledger"), "runs", "--format", "json").stdout)
    assert {r["correlation_id"]: r["forked_from"] for r in runs} == {
        "0190b6a2-7c4e-7d3a-9f1e-2b8c4d5e6f70": None, new: "0190b6a2-7c4e-7d3a-9f1e-2b8c4d5e6f70"}
    dag = json.loads(run_cli("--ledger", str(tmp_path / "ledger"), "dag", new).stdout)
    assert dag["forked_from"]["at_seq"] == 2
    bad = run_cli("--ledger", str(tmp_path / "ledger"), "fork", new, "--at", "9")
    assert bad.returncode == 2 and "fork --at takes one of them" in bad.stderr


def test_fork_through_a_running_receiver_gives_the_same_facts(tmp_path):
    from tests.receiver.conftest import start_receiver

    receiver = start_receiver(tmp_path / "served", http=None)
    try:
        receiver.ledger.append(story("served-run"))
        done = run_cli("fork", "served-run", "--at", "4", "--as", "served-fork", "--server",
                       f"127.0.0.1:{receiver.grpc_port}")
        assert done.returncode == 0, done.stderr
        got = list(receiver.ledger.replay("served-fork"))
        expected = fork_envelopes(list(receiver.ledger.replay("served-run")), 4, "served-fork")
        assert [(e.event_id, *e.content()) for e in got] == [(e.event_id, *e.content()) for e in expected]
        again = run_cli("fork", "served-run", "--at", "4", "--as", "served-fork", "--server",
                        f"127.0.0.1:{receiver.grpc_port}")
        assert again.returncode == 0 and len(list(receiver.ledger.replay("served-fork"))) == 5  # duplicates
        other = run_cli("fork", "served-run", "--at", "2", "--as", "served-fork", "--server",
                        f"127.0.0.1:{receiver.grpc_port}")
        assert other.returncode == 2 and "already exists" in other.stderr  # never merged into another fork
        assert receiver.ledger.verify().ok
    finally:
        receiver.stop(grace=1)
