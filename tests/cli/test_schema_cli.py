"""chatsnapshot schema: list, print, and check a file or a run against the payload schemas."""

from __future__ import annotations

import json

from chatsnapshot.ledger import Envelope, Ledger
from tests.cli.test_cli import run_cli


def test_schema_lists_prints_and_refuses_an_unknown_type(tmp_path):
    listed = run_cli("schema")
    assert listed.returncode == 0 and "execution.tool_call" in listed.stdout and "execution.usage" in listed.stdout
    printed = run_cli("schema", "execution.tool_call")
    assert printed.returncode == 0 and json.loads(printed.stdout)["required"] == ["name"]
    unknown = run_cli("schema", "execution.nope")
    assert unknown.returncode == 2 and "no published schema" in unknown.stderr


def test_schema_check_names_each_line_that_does_not_follow(tmp_path):
    path = tmp_path / "facts.jsonl"
    path.write_text("\n".join(json.dumps(f) for f in (
        {"event_type": "execution.tool_call", "correlation_id": "r", "payload": {"name": "get_weather"}},
        {"event_type": "execution.tool_call", "correlation_id": "r", "payload": {"arguments": "{}"}},
        {"event_type": "x.acme.thing", "correlation_id": "r", "payload": {"anything": 1}},
    )) + "\n")
    done = run_cli("schema", "--check", str(path))
    assert done.returncode == 1
    assert done.stdout.splitlines() == [f"{path}:2: execution.tool_call: payload: 'name' is a required property",
                                        "3 payload(s) checked, 1 problem(s)"]


def test_schema_check_of_a_run_in_the_ledger(tmp_path):
    with Ledger.open(tmp_path / "ledger") as ledger:
        ledger.append([Envelope.create("execution.message", correlation_id="run-1", payload={"content": "hi"}),
                       Envelope.create("execution.usage", correlation_id="run-1", payload={"prompt_tokens": -1})])
    done = run_cli("--ledger", str(tmp_path / "ledger"), "schema", "--run", "run-1")
    assert done.returncode == 1
    assert "seq 2: execution.usage: prompt_tokens: -1 is less than the minimum of 0" in done.stdout
