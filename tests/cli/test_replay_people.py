"""replay for people: one short line per fact (what it says, not the runtime's raw event), filters by
type, agent and time, --wide for the whole payload, --follow for what arrives next."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from chatsnapshot.ledger import Envelope, Ledger
from tests.cli.test_cli import run_cli
from tests.helpers import ROOT

RAW = {"type": "text", "content": {"content": "x" * 3000, "sender": "assistant"}}  # a runtime's own event blob
T0 = 1_764_590_000_000_000_000


@pytest.fixture
def ledger(tmp_path):
    facts = [
        Envelope.create("execution.message", correlation_id="r", occurred_at=T0, origin="agent",
                        payload={"role": "user", "content": "What's the weather in Paris?", "ag2": RAW}),
        Envelope.create("execution.tool_call", correlation_id="r", occurred_at=T0 + 10**9, origin="agent",
                        agent="assistant", payload={"name": "get_weather", "arguments": '{"city": "Paris"}',
                                                    "ag2": RAW}),
        Envelope.create("execution.tool_result", correlation_id="r", occurred_at=T0 + 2 * 10**9, origin="agent",
                        agent="assistant", payload={"name": "get_weather", "status": "error", "error": "timeout"}),
        Envelope.create("execution.message", correlation_id="r", occurred_at=T0 + 3 * 10**9, origin="agent",
                        agent="assistant", payload={"role": "assistant", "content": "It is sunny.", "ag2": RAW}),
    ]
    with Ledger.open(tmp_path / "ledger") as opened:
        opened.append(facts)
    return str(tmp_path / "ledger")


def test_the_table_says_what_each_fact_says_in_one_short_line(ledger):
    done = run_cli("--ledger", ledger, "replay", "r")
    lines = done.stdout.splitlines()
    assert done.returncode == 0 and len(lines) == 5
    assert max(map(len, lines)) < 200 and "xxxx" not in done.stdout  # the raw event stays out of the way
    assert lines[1].split()[3] == "user" and lines[1].endswith("What's the weather in Paris?")
    assert 'get_weather({"city": "Paris"})' in lines[2] and "get_weather error: timeout" in lines[3]
    wide = run_cli("--ledger", ledger, "replay", "r", "--wide")
    assert "xxxx" in wide.stdout  # --wide: everything


def test_filters_by_type_agent_and_time(ledger):
    def says(*flags: str) -> list[str]:
        done = run_cli("--ledger", ledger, "replay", "r", *flags)
        assert done.returncode == 0, done.stderr
        return [line.split()[2] for line in done.stdout.splitlines()[1:]]

    assert says("--type", "message") == ["message", "message"]
    assert says("--type", "tool_call", "--type", "execution.tool_result") == ["tool_call", "tool_result"]
    assert says("--agent", "user") == ["message"]
    assert says("--since", "2025-12-01T11:53:22Z") == ["tool_result", "message"]
    unknown = run_cli("--ledger", ledger, "replay", "r", "--agent", "nobody")
    assert unknown.returncode == 2 and "its agents: assistant, user" in unknown.stderr
    assert run_cli("--ledger", ledger, "replay", "r", "--since", "yesterday").returncode == 2


def test_follow_prints_the_new_facts_as_they_commit(tmp_path):
    ledger = tmp_path / "ledger"
    with Ledger.open(ledger) as opened:
        opened.append([Envelope.create("execution.message", correlation_id="live", payload={"content": "first"})])
    follower = subprocess.Popen([sys.executable, "-m", "chatsnapshot.cli.main", "--ledger", str(ledger), "replay",
                                 "live", "--follow", "--format", "jsonl"], stdout=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert follower.stdout is not None and '"first"' in follower.stdout.readline()
        with Ledger.open(ledger) as opened:  # another writer process comes and goes: the follower sees it
            opened.append([Envelope.create("execution.message", correlation_id="live", payload={"content": "next"})])
        started = time.monotonic()
        line = follower.stdout.readline()
        assert '"next"' in line and time.monotonic() - started < 10
    finally:
        follower.kill()
        follower.wait()
