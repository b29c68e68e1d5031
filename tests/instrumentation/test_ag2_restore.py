"""AG2 1.x restore: a conversation continued from the ledger as if never interrupted, read the
moment its run ends (same process, another process, through the receiver), and forked at a seq.

Real AG2 agents, real embedded ledger; only the model is scripted (``ag2.testing.TestConfig``).
"""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("ag2")

from ag2.testing import TestConfig

import chatsnapshot
from chatsnapshot.instrumentation.ag2 import correlation_of, restore
from tests.instrumentation.recorded import check_causation, comparable, configured, only_run, read_runs
from tests.instrumentation.test_ag2 import agents, flush, instrumented, script

__all__ = ["instrumented"]  # the autouse fixture: every test here runs instrumented


RANDOM_PER_RUN = {"created_at", "__exception__", "id", "parent_id", "task_id", "parent_tool_call_id", "task_stream"}


def strip_times(value: object) -> object:
    """An event's dict without what AG2 makes up anew in each run (times, request and task ids)."""
    if isinstance(value, dict):
        return {k: strip_times(v) for k, v in value.items() if k not in RANDOM_PER_RUN}
    if isinstance(value, list):
        return [strip_times(v) for v in value]
    return value


def test_restore_then_continue_records_what_an_uninterrupted_run_records(tmp_path):
    later = ("Anything else?", "Bye.")

    async def uninterrupted() -> list:
        assistant = agents(script(*later), ["yes"])
        reply = await assistant.ask("What's the weather in Paris?")
        reply = await reply.ask("Thanks.")
        reply = await reply.ask("Bye.")
        return [strip_times(e.to_dict()) for e in await reply.history.get_events()]

    chatsnapshot.configure(ledger=tmp_path / "whole")
    whole_history = asyncio.run(uninterrupted())
    flush()

    async def first_part() -> tuple[str, list]:
        reply = await agents(script(*later), ["yes"]).ask("What's the weather in Paris?")
        return correlation_of(reply), [strip_times(e.to_dict()) for e in await reply.history.get_events()]

    chatsnapshot.configure(ledger=tmp_path / "split")
    correlation, history_then = asyncio.run(first_part())
    flush()  # the process "restarts": nothing of the conversation is left in memory

    async def second_part() -> list:
        stream = await restore(tmp_path / "split", correlation)
        assert [strip_times(e.to_dict()) for e in await stream.history.get_events()] == history_then
        # a new agent whose model script continues where the first process stopped
        assistant = agents(TestConfig(*later, raise_tool_errors=False), [])
        reply = await assistant.ask("Thanks.", stream=stream)
        reply = await reply.ask("Bye.")
        return [strip_times(e.to_dict()) for e in await reply.history.get_events()]

    chatsnapshot.configure(ledger=tmp_path / "split")
    split_history = asyncio.run(second_part())
    flush()
    assert split_history == whole_history  # the model saw the same conversation

    whole, split = only_run(tmp_path / "whole"), only_run(tmp_path / "split")
    assert split[0].correlation_id == correlation
    whole_ids, split_ids = check_causation(whole), check_causation(split)
    assert len(split) == len(whole)  # the restored history was not recorded again
    assert [comparable(f, split_ids) for f in split] == [comparable(f, whole_ids) for f in whole]


@pytest.mark.parametrize("through", ["embedded", "receiver"])
def test_restore_right_after_the_run_sees_the_whole_run(tmp_path, through):
    """Read your writes: no flush, no wait; the restore reads the run the moment it ended."""
    with configured(through, tmp_path) as server:

        async def run_then_restore() -> tuple[list, list]:
            reply = await agents(script(), ["yes"]).ask("What's the weather in Paris?")
            then = [strip_times(e.to_dict()) for e in await reply.history.get_events()]
            if server is None:
                stream = await restore(tmp_path / "ledger", correlation_of(reply))
            else:
                stream = await restore(server=server, correlation_id=correlation_of(reply))
            return then, [strip_times(e.to_dict()) for e in await stream.history.get_events()]

        then, restored = asyncio.run(run_then_restore())
        assert restored == then and len(then) > 10


def test_another_process_restores_a_run_the_moment_its_recorder_acknowledged_it(tmp_path):
    """The recording process keeps the ledger open (its writer alive, nothing sealed yet); this one
    restores the run at once, reading the writer's WAL."""
    import subprocess
    import sys

    from tests.helpers import ROOT

    recorder = subprocess.Popen([sys.executable, "-m", "tests.instrumentation.ag2_recorder", str(tmp_path / "l")],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert recorder.stdout is not None
        _, correlation, events = recorder.stdout.readline().split()
        assert not list((tmp_path / "l" / "segments").glob("*.parquet"))  # nothing sealed: only the WAL has it
        stream = asyncio.run(restore(tmp_path / "l", correlation))
        assert len(asyncio.run(stream.history.get_events())) == int(events) > 3
    finally:
        recorder.communicate("", timeout=60)


def test_restore_upto_a_seq_forks_the_run_and_the_agents_continue_the_fork(tmp_path):
    chatsnapshot.configure(ledger=tmp_path / "ledger")

    async def two_turns() -> str:
        reply = await agents(script("Anything else?"), ["yes"]).ask("What's the weather in Paris?")
        await reply.ask("Thanks.")
        return correlation_of(reply)

    original = asyncio.run(two_turns())
    from chatsnapshot.instrumentation.configuration import current_pipeline
    from chatsnapshot.ledger import Ledger

    assert current_pipeline().force_flush()
    with Ledger.open(tmp_path / "ledger", readonly=True) as ledger:
        before = list(ledger.replay(original))
    starts = [f.seq for f in before if f.event_type == "execution.run_started"]
    at = starts[1] - 1  # the end of the first ask: the second one is what the fork does differently

    async def fork_and_continue() -> str:
        stream = await restore(tmp_path / "ledger", original, upto_seq=at)
        assistant = agents(TestConfig("Take an umbrella.", raise_tool_errors=False), [])
        reply = await assistant.ask("Should I take an umbrella?", stream=stream)
        assert correlation_of(reply) == correlation_of(stream) != original
        return correlation_of(reply)

    forked = asyncio.run(fork_and_continue())
    flush()
    runs = read_runs(tmp_path / "ledger")  # verifies every chain
    assert [(f.seq, f.event_id, f.payload) for f in runs[original]] == [(f.seq, f.event_id, f.payload) for f in before]
    fork_facts = runs[forked]
    assert fork_facts[0].event_type == "system.run_forked"
    assert fork_facts[0].payload == {"forked_from": original, "at_seq": at, "fact_id": before[at - 1].event_id}
    assert [f.payload for f in fork_facts[1:at + 1]] == [f.payload for f in before[:at]]  # the original's prefix
    new = fork_facts[at + 1:]
    assert new and new[0].event_type == "execution.run_started"  # then what the agents did next
    assert any(f.payload.get("content") == "Should I take an umbrella?" for f in new)
    assert new[0].causation_id == fork_facts[at].event_id  # caused by the last copied fact
    with Ledger.open(tmp_path / "ledger", readonly=True) as ledger:
        assert {r.correlation_id: r.forked_from for r in ledger.runs()} == {original: None, forked: original}
