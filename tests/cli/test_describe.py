"""runs with status, agents, tokens, cost, errors and lineage, filtered; describe, one run at a glance."""

from __future__ import annotations

import json

import pytest

from chatsnapshot.ledger import Envelope, Ledger, fork
from tests.cli.test_cli import run_cli

T0 = 1_764_590_000_000_000_000


def run_of(run: str, *, fail: bool, start: int, service: str) -> list[Envelope]:
    def fact(k: int, kind: str, agent: str, **payload) -> Envelope:
        return Envelope.create(kind, correlation_id=run, occurred_at=start + k * 10**9, origin="agent", agent=agent,
                               service=service, payload=payload)

    facts = [fact(0, "execution.run_started", "planner", task="plan"),
             fact(1, "execution.llm_call", "planner", model="m1", status="ok"),
             fact(2, "execution.usage", "planner", prompt_tokens=100, completion_tokens=20, total_tokens=120,
                  cost=0.0042),
             fact(3, "execution.tool_call", "researcher", name="search", arguments="{}"),
             fact(4, "execution.tool_result", "researcher", name="search", status="error" if fail else "ok",
                  error="timeout" if fail else None)]
    facts.append(fact(5, "execution.run_failed", "planner", error="gave up") if fail
                 else fact(5, "execution.run_completed", "planner", status="ok"))
    return facts


@pytest.fixture
def ledger(tmp_path):
    with Ledger.open(tmp_path / "ledger") as opened:
        opened.append(run_of("good", fail=False, start=T0, service="svc-a"))
        opened.append(run_of("bad", fail=True, start=T0 + 100 * 10**9, service="svc-b"))
        fork(opened, "good", 3, "good-fork")
    return str(tmp_path / "ledger")


def runs(ledger: str, *flags: str) -> dict[str, dict]:
    done = run_cli("--ledger", ledger, "runs", "--format", "jsonl", *flags)
    assert done.returncode == 0, done.stderr
    return {r["correlation_id"]: r for r in map(json.loads, done.stdout.splitlines())}


def test_runs_say_status_agents_tokens_cost_errors_and_lineage(ledger):
    every = runs(ledger)
    assert (every["good"]["status"], every["bad"]["status"]) == ("completed", "failed")
    assert every["good"]["agents"] == ["planner", "researcher"] and every["bad"]["services"] == ["svc-b"]
    assert every["good"]["total_tokens"] == 120 and every["good"]["cost"] == 0.0042
    assert (every["good"]["errors"], every["bad"]["errors"]) == (0, 2)  # a failed tool and a failed run
    assert every["good"]["duration_ms"] == 5000.0 and every["good-fork"]["forked_from"] == "good"
    table = run_cli("--ledger", ledger, "runs").stdout.splitlines()
    assert table[0].split()[:3] == ["correlation_id", "status", "agents"] and "forked_from" in table[0]


def test_runs_filters(ledger):
    assert set(runs(ledger, "--status", "failed")) == {"bad"}
    assert set(runs(ledger, "--agent", "researcher")) == {"good", "bad"}
    assert set(runs(ledger, "--service", "svc-a")) == {"good", "good-fork"}  # the copies keep their source
    assert set(runs(ledger, "--since", "2025-12-01T11:54:00Z")) == {"bad"}
    assert set(runs(ledger, "--query", "payload->>'error' = 'timeout'")) == {"bad"}
    assert set(runs(ledger, "--status", "completed", "--agent", "nobody")) == set()
    bad = run_cli("--ledger", ledger, "runs", "--query", "no_such_column = 1")
    assert bad.returncode == 2 and "Candidate bindings" in bad.stderr


def test_describe_one_run_at_a_glance(ledger):
    d = json.loads(run_cli("--ledger", ledger, "describe", "bad", "--format", "json").stdout)
    assert d["status"] == "failed" and d["agents"] == ["planner", "researcher"] and d["facts"] == 6
    assert d["llm"]["total_tokens"] == 120 and d["tools"] == {"calls": 1, "failures": 1}
    assert [(e["seq"], e["type"]) for e in d["errors"]] == [(5, "execution.tool_result"), (6, "execution.run_failed")]
    good = json.loads(run_cli("--ledger", ledger, "describe", "good", "--format", "json").stdout)
    assert good["forks"] == ["good-fork"] and good["errors"] == []
    forked = json.loads(run_cli("--ledger", ledger, "describe", "good-fork", "--format", "json").stdout)
    assert forked["forked_from"]["forked_from"] == "good" and forked["forked_from"]["at_seq"] == 3
    text = run_cli("--ledger", ledger, "describe", "bad").stdout
    assert "status       failed" in text and "#5 tool_result: search error: timeout" in text
